/*
 * join_latency: how long a new peer takes to join a running group and
 * receive its shared state.  Public C API only.
 *
 *   members:  join_latency --role member [--bytes B] [--sleep-ms MS]
 *   joiner:   join_latency --role joiner [--bytes B] [--spawn-time T]
 *
 * The coordinator, world size and token come from the environment
 * (MERIDIAN_COORDINATOR, MERIDIAN_WORLD_SIZE, MERIDIAN_AUTH_TOKEN).  Members
 * hold one shared tensor "weights" of B bytes (uint32, a known pattern,
 * revision 1) and loop:
 *
 *   mdnCommPendingJoiners -> mdnCommUpdate when someone waits, start over
 *   mdnSharedStateSync("weights")
 *   all-reduce of a stop flag (int32 sum); stop when it is not 0
 *   sleep MS (a training step's work)
 *
 * The joiner starts with zeros at revision 0, creates its communicator
 * (pending until the members' mdnCommUpdate admits it), runs the same loop
 * once, checks that its first sync received B bytes and that they are the
 * pattern, and raises the stop flag, so every process exits after one
 * admission.  Output, one line per process on stdout:
 *
 *   joiner bytes B join_s X create_s C sync_s S received R verified 1
 *          rank r world w [from_spawn_s F]
 *   member rank r bytes B iterations N steady_iter_ms I admission_ms A
 *          update_ms U sync_ms S sent T
 *
 * join_s runs from the joiner's main() to the end of its first sync;
 * from_spawn_s from --spawn-time T (CLOCK_MONOTONIC seconds, e.g. Python's
 * time.monotonic() just before it started the process).  admission_ms is
 * the member's time from seeing the pending joiner to the end of the sync
 * that follows the update (update_ms + sync_ms); steady_iter_ms is the
 * median loop iteration without an admission, sleep included.
 *
 * Exit status: 0 ok, 1 an API error, 2 usage, 3 wrong content received.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meridian.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t pattern(size_t i) {
  return (uint32_t)(i * 2654435761u) ^ 0x9e3779b9u;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static int api_error(mdnComm_t comm, const char* where, mdnResult_t rc) {
  fprintf(stderr, "join_latency: %s failed: %s: %s\n", where, mdnGetErrorString(rc),
          comm ? mdnCommGetLastError(comm) : mdnGetLastError());
  return 1;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  if (ms <= 0) return;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void usage(void) {
  fputs("usage: join_latency --role member|joiner [--bytes B] [--sleep-ms MS]\n"
        "                    [--spawn-time T]\n"
        "  --bytes B        shared tensor size, a multiple of 4 (default 268435456)\n"
        "  --sleep-ms MS    members' pause per iteration (default 10)\n"
        "  --spawn-time T   joiner: CLOCK_MONOTONIC seconds when it was spawned\n",
        stderr);
}

int main(int argc, char** argv) {
  const double t_main = now_s();
  const char* role = NULL;
  unsigned long long bytes = 256ull << 20;
  long sleep = 10;
  double spawn_time = -1;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--role") && v) {
      role = v;
      ++i;
    } else if (!strcmp(a, "--bytes") && v) {
      bytes = strtoull(v, NULL, 10);
      ++i;
    } else if (!strcmp(a, "--sleep-ms") && v) {
      sleep = strtol(v, NULL, 10);
      ++i;
    } else if (!strcmp(a, "--spawn-time") && v) {
      spawn_time = strtod(v, NULL);
      ++i;
    } else {
      usage();
      return 2;
    }
  }
  if (!role || (strcmp(role, "member") && strcmp(role, "joiner")) || bytes == 0 ||
      bytes % 4 != 0) {
    usage();
    return 2;
  }
  const int joiner = !strcmp(role, "joiner");
  const size_t count = (size_t)(bytes / 4);
  uint32_t* data = joiner ? calloc(count, sizeof *data) : malloc(count * sizeof *data);
  if (!data) {
    fprintf(stderr, "join_latency: cannot allocate %llu bytes\n", bytes);
    return 1;
  }
  if (!joiner) {
    for (size_t i = 0; i < count; ++i) data[i] = pattern(i);
  }
  uint64_t revision = joiner ? 0 : 1;

  mdnComm_t comm = NULL;
  mdnResult_t rc = mdnCommCreate(NULL, &comm);
  if (rc != mdnSuccess) return api_error(NULL, "mdnCommCreate", rc);
  const double t_created = now_s();

  double* iters = NULL;
  size_t n_iters = 0, cap_iters = 0;
  double t_seen = -1, update_ms = -1, admission_ms = -1, sync_after_ms = -1;
  int first_sync_done = 0;
  int status = 0;
  uint64_t sent = 0;
  for (;;) {
    const double t_iter = now_s();
    int pending = 0;
    rc = mdnCommPendingJoiners(comm, &pending);
    if (rc != mdnSuccess) return api_error(comm, "mdnCommPendingJoiners", rc);
    if (pending > 0) {
      t_seen = t_iter;
      rc = mdnCommUpdate(comm);
      if (rc != mdnSuccess) return api_error(comm, "mdnCommUpdate", rc);
      update_ms = (now_s() - t_seen) * 1e3;
      continue;
    }
    mdnSharedTensor_t t;
    memset(&t, 0, sizeof t);
    t.name = "weights";
    t.data = data;
    t.count = count;
    t.datatype = mdnUint32;
    t.revision = revision;
    mdnSyncInfo_t info;
    memset(&info, 0, sizeof info);
    const double t_sync = now_s();
    rc = mdnSharedStateSync(comm, &t, 1, &info);
    if (rc != mdnSuccess) return api_error(comm, "mdnSharedStateSync", rc);
    const double t_synced = now_s();
    revision = t.revision;
    sent += info.bytes_sent;
    int stop = 0;
    if (joiner && !first_sync_done) {
      first_sync_done = 1;
      size_t bad = count;
      for (size_t i = 0; i < count; ++i) {
        if (data[i] != pattern(i)) {
          bad = i;
          break;
        }
      }
      int rank = -1, world = -1;
      mdnCommRank(comm, &rank);
      mdnCommSize(comm, &world);
      int ok = bad == count && info.bytes_received == bytes && t.revision == 1;
      printf("joiner bytes %llu join_s %.6f create_s %.6f sync_s %.6f received %llu verified %d "
             "rank %d world %d",
             bytes, t_synced - t_main, t_created - t_main, t_synced - t_sync,
             (unsigned long long)info.bytes_received, ok, rank, world);
      if (spawn_time >= 0) printf(" from_spawn_s %.6f", t_synced - spawn_time);
      printf("\n");
      fflush(stdout);
      if (!ok) {
        fprintf(stderr,
                "join_latency: joiner received %llu of %llu bytes at revision %llu; first wrong "
                "element %zu of %zu\n",
                (unsigned long long)info.bytes_received, bytes,
                (unsigned long long)t.revision, bad, count);
        status = 3;
      }
      stop = 1;
    }
    if (!joiner && t_seen >= 0 && admission_ms < 0) {
      sync_after_ms = (t_synced - t_sync) * 1e3;
      admission_ms = (t_synced - t_seen) * 1e3;
    }
    int32_t flag = stop;
    rc = mdnAllReduce(comm, &flag, &flag, 1, mdnInt32, mdnSum);
    if (rc != mdnSuccess) return api_error(comm, "mdnAllReduce", rc);
    if (flag != 0) break;
    sleep_ms(sleep);
    if (!joiner && t_seen < 0) {
      if (n_iters == cap_iters) {
        cap_iters = cap_iters ? 2 * cap_iters : 64;
        double* grown = realloc(iters, cap_iters * sizeof *iters);
        if (!grown) return 1;
        iters = grown;
      }
      iters[n_iters++] = (now_s() - t_iter) * 1e3;
    }
  }
  if (!joiner) {
    int rank = -1;
    mdnCommRank(comm, &rank);
    double median = 0;
    if (n_iters > 0) {
      qsort(iters, n_iters, sizeof *iters, cmp_double);
      median = iters[n_iters / 2];
    }
    printf("member rank %d bytes %llu iterations %zu steady_iter_ms %.3f admission_ms %.3f "
           "update_ms %.3f sync_ms %.3f sent %llu\n",
           rank, bytes, n_iters, median, admission_ms, update_ms, sync_after_ms,
           (unsigned long long)sent);
    fflush(stdout);
  }
  free(iters);
  mdnCommDestroy(comm);
  free(data);
  return status;
}
