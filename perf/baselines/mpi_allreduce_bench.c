/*
 * mpi_allreduce_bench: the MPI_Allreduce baseline for all_reduce_perf.
 * float32 sum over the nccl-tests size sweep, same columns and formulas
 * (busbw = algbw * 2(n-1)/n, time = slowest rank's mean), plus JSON.
 *
 * Run it over TCP on loopback, without shared memory, e.g.:
 *   mpirun --allow-run-as-root --oversubscribe --bind-to none -np 4 \
 *     --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo \
 *     --mca mpi_yield_when_idle 1 \
 *     build/bin/mpi_allreduce_bench -b 8 -e 64M -f 2
 */
#include <errno.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t min_bytes, max_bytes, step_bytes, step_factor;
  int iters, warmup_iters, check;
  const char* json_path;
} options_t;

static int parse_size(const char* text, size_t* bytes_p) {
  char* end = NULL;
  unsigned shift = 0;
  unsigned long long n;
  if (text[0] < '0' || text[0] > '9') return 0;
  errno = 0;
  n = strtoull(text, &end, 10);
  if (errno) return 0;
  switch (*end) {
    case 'k':
    case 'K':
      shift = 10;
      ++end;
      break;
    case 'm':
    case 'M':
      shift = 20;
      ++end;
      break;
    case 'g':
    case 'G':
      shift = 30;
      ++end;
      break;
    default:
      break;
  }
  if (*end == 'b' || *end == 'B') ++end;
  if (*end != '\0' || n > ((unsigned long long)SIZE_MAX >> shift)) return 0;
  *bytes_p = (size_t)(n << shift);
  return 1;
}

static void usage(const char* program) {
  printf(
      "USAGE: mpirun -np N ... %s [-b minbytes] [-e maxbytes] [-f stepfactor]\n"
      "       [-i stepbytes] [-n iters] [-w warmup_iters] [-c 0/1]\n"
      "       [--json FILE]\n"
      "float32 sum MPI_Allreduce; sizes take K/M/G suffixes.  Defaults as\n"
      "nccl-tests: -b 32M -e 32M -i 1M -n 20 -w 5 -c 1.\n",
      program);
}

/* 0: run, 1: help, -1: error (message printed by rank 0). */
static int parse_args(int argc, char** argv, options_t* o, int rank) {
  int a;
  for (a = 1; a < argc; ++a) {
    const char* arg = argv[a];
    const char* value = a + 1 < argc ? argv[a + 1] : NULL;
    int ok = value != NULL, v;
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return 1;
    if (!strcmp(arg, "-b"))
      ok = ok && parse_size(value, &o->min_bytes);
    else if (!strcmp(arg, "-e"))
      ok = ok && parse_size(value, &o->max_bytes);
    else if (!strcmp(arg, "-i"))
      ok = ok && parse_size(value, &o->step_bytes);
    else if (!strcmp(arg, "-f"))
      ok = ok && (v = atoi(value)) >= 1 && (o->step_factor = (size_t)v);
    else if (!strcmp(arg, "-n"))
      ok = ok && (o->iters = atoi(value)) >= 1;
    else if (!strcmp(arg, "-w"))
      ok = ok && (o->warmup_iters = atoi(value)) >= 0;
    else if (!strcmp(arg, "-c"))
      ok = ok && ((o->check = atoi(value)) == 0 || o->check == 1);
    else if (!strcmp(arg, "--json"))
      o->json_path = value;
    else
      ok = 0;
    if (!ok) {
      if (rank == 0)
        fprintf(stderr, "%s: bad argument '%s' (try -h)\n", argv[0], arg);
      return -1;
    }
    ++a;
  }
  if (o->min_bytes > o->max_bytes ||
      (o->step_factor > 1 && o->min_bytes == 0) ||
      (o->step_factor <= 1 && o->step_bytes == 0)) {
    if (rank == 0)
      fprintf(stderr, "%s: inconsistent size sweep (try -h)\n", argv[0]);
    return -1;
  }
  return 0;
}

static size_t next_size(const options_t* o, size_t size) {
  size_t next =
      o->step_factor > 1 ? size * o->step_factor : size + o->step_bytes;
  return next <= size ? o->max_bytes + 1 : next; /* overflow ends the sweep */
}

/* Small integers: every sum is exact in float, in any order. */
static float input_value(int rank, size_t i) {
  return (float)((i * 7 + (size_t)rank * 13) % 17) - 8;
}

static const char* format_time(double us, char* buf) {
  sprintf(buf, us >= 10000.0 ? "%7.0f" : us >= 100.0 ? "%7.1f" : "%7.2f", us);
  return buf;
}

int main(int argc, char** argv) {
  options_t o = {32u << 20, 32u << 20, 1u << 20, 1, 20, 5, 1, NULL};
  int rank, nranks, rc, i, r, version_len;
  size_t size, k;
  char version[MPI_MAX_LIBRARY_VERSION_STRING], tbuf[32];
  float *send, *recv;
  FILE* json = NULL;
  double busbw_sum = 0.0;
  long long total_wrong = 0;
  int rows = 0;

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  rc = parse_args(argc, argv, &o, rank);
  if (rc != 0) {
    if (rc == 1 && rank == 0) usage(argv[0]);
    MPI_Finalize();
    return rc == 1 ? 0 : 2;
  }
  send = malloc(o.max_bytes + 4);
  recv = malloc(o.max_bytes + 4);
  if (!send || !recv) {
    fprintf(stderr, "rank %d: cannot allocate 2 x %zu bytes\n", rank,
            o.max_bytes);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }

  if (rank == 0) {
    MPI_Get_library_version(version, &version_len);
    version[strcspn(version, "\n,")] = '\0';
    printf("# MPI_Allreduce baseline (%s)\n", version);
    printf(
        "# nRanks %d minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d "
        "iters: %d "
        "validation: %d\n#\n",
        nranks, o.min_bytes, o.max_bytes,
        o.step_factor > 1 ? o.step_factor : o.step_bytes,
        o.step_factor > 1 ? "factor" : "bytes", o.warmup_iters, o.iters,
        o.check);
    printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s\n", "size", "count",
           "type", "redop", "root", "time", "algbw", "busbw", "#wrong");
    printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s\n", "(B)",
           "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "");
    fflush(stdout);
    if (o.json_path) {
      json = fopen(o.json_path, "w");
      if (!json) {
        fprintf(stderr, "cannot open %s: %s\n", o.json_path, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 2);
      }
      fprintf(json,
              "{\n  \"benchmark\": \"all_reduce\",\n  \"implementation\": "
              "\"mpi\",\n"
              "  \"library_version\": \"%s\",\n  \"world_size\": %d,\n  "
              "\"results\": [",
              version, nranks);
    }
  }

  for (size = o.min_bytes; size <= o.max_bytes; size = next_size(&o, size)) {
    const size_t count = size / sizeof(float);
    const int n = count > (size_t)0x7fffffff ? 0x7fffffff : (int)count;
    double start, seconds, max_seconds, algbw, busbw;
    long long wrong = 0, all_wrong = 0;

    for (k = 0; k < count; ++k) send[k] = input_value(rank, k);
    for (i = 0; i < o.warmup_iters; ++i) {
      MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    start = MPI_Wtime();
    for (i = 0; i < o.iters; ++i) {
      MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    seconds = (MPI_Wtime() - start) / o.iters;
    MPI_Allreduce(&seconds, &max_seconds, 1, MPI_DOUBLE, MPI_MAX,
                  MPI_COMM_WORLD);

    if (o.check) {
      memset(recv, 0xA5, count * sizeof(float));
      MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      for (k = 0; k < count; ++k) {
        float expected = 0;
        for (r = 0; r < nranks; ++r) expected += input_value(r, k);
        wrong += recv[k] != expected;
      }
      MPI_Allreduce(&wrong, &all_wrong, 1, MPI_LONG_LONG, MPI_SUM,
                    MPI_COMM_WORLD);
      total_wrong += all_wrong;
    }
    algbw = max_seconds > 0
                ? (double)(count * sizeof(float)) / 1.0e9 / max_seconds
                : 0.0;
    busbw = algbw * 2.0 * (nranks - 1) / nranks;
    busbw_sum += busbw;
    if (rank == 0) {
      char wrong_text[32];
      if (o.check)
        sprintf(wrong_text, "%lld", all_wrong);
      else
        strcpy(wrong_text, "N/A");
      printf("%12zu  %12zu  %8s  %6s  %6d  %7s  %6.2f  %6.2f  %5s\n",
             count * sizeof(float), count, "float", "sum", -1,
             format_time(max_seconds * 1e6, tbuf), algbw, busbw, wrong_text);
      fflush(stdout);
      if (json) {
        fprintf(json,
                "%s\n    {\"size\": %zu, \"count\": %zu, \"type\": \"float\", "
                "\"redop\": \"sum\", "
                "\"time_us\": %.3f, \"algbw_gbps\": %.6f, \"busbw_gbps\": "
                "%.6f, \"wrong\": %s}",
                rows ? "," : "", count * sizeof(float), count,
                max_seconds * 1e6, algbw, busbw, o.check ? wrong_text : "null");
      }
    }
    ++rows;
  }

  if (rank == 0) {
    printf("# Out of bounds values : %lld %s\n", total_wrong,
           total_wrong ? "FAILED" : "OK");
    printf("# Avg bus bandwidth    : %.4f \n#\n",
           rows ? busbw_sum / rows : 0.0);
    if (json) {
      fprintf(
          json,
          "\n  ],\n  \"out_of_bounds\": %lld,\n  \"avg_busbw_gbps\": %.6f\n}\n",
          total_wrong, rows ? busbw_sum / rows : 0.0);
      fclose(json);
    }
  }
  free(send);
  free(recv);
  MPI_Finalize();
  return total_wrong ? 1 : 0;
}
