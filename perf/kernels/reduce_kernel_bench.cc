// Micro-benchmark of the reduction kernels (collectives/math) on every ISA
// this CPU supports, next to memcpy on the same buffer sizes.
//
// Byte convention (both rates count the same thing): bytes_per_second is the
// bytes the operation must read plus the bytes it must write, per second.  A
// reduce of N-byte buffers reads a and b and writes dst: 3N; memcpy reads N
// and writes N: 2N.  (The cache's write-allocate reads of the destination are
// counted for neither.)  Both are then the same measure of memory traffic, so
// "reduce / memcpy" near 1 means the kernel runs at memory speed.  The counter
// out_bytes_per_second is the other common convention: N per operation (GB/s
// of output).  The summary printed at the end gives both ratios for fp32 sum.
//
// The buffers are N bytes each, 64 KiB (cache-resident) to 64 MiB (DRAM).
//
// Rates use CPU time, and the summary takes the best of the repetitions
// (3 unless --benchmark_repetitions says otherwise): the kernels are
// single-threaded, and on a shared machine wall time mostly measures the
// other tenants.  In the "_max" rows the rate columns are the best
// repetition and the time columns the slowest (one statistic serves both).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "collectives/math/elementwise.h"
#include "collectives/math/reduce.h"
#include "collectives/math/types.h"

namespace meridian::math {
namespace {

constexpr size_t kMinBytes = 64u << 10;
constexpr size_t kMaxBytes = 64u << 20;

std::string SizeName(size_t bytes) {
  return bytes >= (1u << 20) ? std::to_string(bytes >> 20) + "MiB"
                             : std::to_string(bytes >> 10) + "KiB";
}

// Three buffers of kMaxBytes, allocated and touched once; each benchmark
// uses a prefix.  Contents are refilled only when the element type changes,
// with ordinary values (no subnormals, which would slow some CPUs and
// measure the assist rather than the kernel).
class Buffers {
 public:
  static Buffers& Get() {
    static Buffers buffers;
    return buffers;
  }
  void* a() { return a_; }
  void* b() { return b_; }
  void* dst() { return dst_; }

  void FillFor(DataType t) {
    if (filled_ == static_cast<int>(t)) return;
    Fill(t, a_, 1);
    Fill(t, b_, 2);
    Fill(t, dst_, 3);
    filled_ = static_cast<int>(t);
  }

 private:
  Buffers()
      : a_(std::aligned_alloc(64, kMaxBytes)),
        b_(std::aligned_alloc(64, kMaxBytes)),
        dst_(std::aligned_alloc(64, kMaxBytes)) {
    if (a_ == nullptr || b_ == nullptr || dst_ == nullptr) {
      std::fprintf(stderr, "reduce_kernel_bench: out of memory\n");
      std::exit(1);
    }
    // Fault every page in now: an untouched buffer reads as the shared zero
    // page, which would make memcpy look like a cache-resident copy.
    std::memset(a_, 1, kMaxBytes);
    std::memset(b_, 2, kMaxBytes);
    std::memset(dst_, 3, kMaxBytes);
  }

  static void Fill(DataType t, void* p, int seed) {
    const size_t n = kMaxBytes / DataTypeSize(t);
    for (size_t i = 0; i < n; ++i) {
      const float f = 1.0f + static_cast<float>((i * 7 + seed) % 1000) * 0.001f;
      const uint64_t k = (i * 13 + seed) % 100;
      switch (t) {
        case DataType::kFloat32:
          static_cast<float*>(p)[i] = f;
          break;
        case DataType::kFloat64:
          static_cast<double*>(p)[i] = f;
          break;
        case DataType::kFloat16:
          static_cast<uint16_t*>(p)[i] = Fp32ToFp16(f);
          break;
        case DataType::kBfloat16:
          static_cast<uint16_t*>(p)[i] = Fp32ToBf16(f);
          break;
        case DataType::kInt8:
        case DataType::kUint8:
          static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(k);
          break;
        case DataType::kInt32:
        case DataType::kUint32:
          static_cast<uint32_t*>(p)[i] = static_cast<uint32_t>(k);
          break;
        case DataType::kInt64:
        case DataType::kUint64:
          static_cast<uint64_t*>(p)[i] = k;
          break;
      }
    }
  }

  void* a_;
  void* b_;
  void* dst_;
  int filled_ = -1;
};

void SetRates(benchmark::State& state, size_t traffic_bytes, size_t out_bytes) {
  const auto iters = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(iters * static_cast<int64_t>(traffic_bytes));
  state.counters["out_bytes_per_second"] = benchmark::Counter(
      static_cast<double>(iters) * static_cast<double>(out_bytes),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
}

void BM_Reduce(benchmark::State& state, Isa isa, DataType t, RedOp op,
               size_t bytes) {
  Buffers& buf = Buffers::Get();
  buf.FillFor(t);
  const size_t count = bytes / DataTypeSize(t);
  for (auto _ : state) {
    ReduceWith(isa, t, op, buf.dst(), buf.a(), buf.b(), count);
    benchmark::ClobberMemory();
  }
  SetRates(state, 3 * bytes, bytes);  // reads a and b, writes dst
}

void BM_DivideBy(benchmark::State& state, Isa isa, DataType t, size_t bytes) {
  Buffers& buf = Buffers::Get();
  buf.FillFor(t);
  const size_t count = bytes / DataTypeSize(t);
  for (auto _ : state) {
    // Divides by 1 so that repeated runs keep the values (and their speed)
    // unchanged; the kernel still does the full division.
    DivideByWith(isa, t, buf.dst(), count, 1);
    benchmark::ClobberMemory();
  }
  SetRates(state, 2 * bytes, bytes);  // reads and writes dst
}

void BM_Memcpy(benchmark::State& state, size_t bytes) {
  Buffers& buf = Buffers::Get();
  buf.FillFor(DataType::kFloat32);
  for (auto _ : state) {
    std::memcpy(buf.dst(), buf.a(), bytes);
    benchmark::ClobberMemory();
  }
  SetRates(state, 2 * bytes, bytes);  // reads a, writes dst
}

std::vector<size_t> AllSizes() {
  std::vector<size_t> sizes;
  for (size_t s = kMinBytes; s <= kMaxBytes; s *= 4) sizes.push_back(s);
  return sizes;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

double MaxOf(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
}

std::string ReduceName(DataType t, RedOp op, Isa isa, size_t bytes) {
  return std::string("reduce/") + DataTypeName(t) + "_" + RedOpName(op) + "/" +
         IsaName(isa) + "/" + SizeName(bytes);
}
std::string MemcpyName(size_t bytes) { return "memcpy/" + SizeName(bytes); }

void RegisterAll() {
  for (size_t bytes : AllSizes()) {
    benchmark::RegisterBenchmark(MemcpyName(bytes).c_str(), BM_Memcpy, bytes)
        ->ComputeStatistics("max", MaxOf);
  }
  for (Isa isa : SupportedIsas()) {
    for (size_t bytes : AllSizes()) {
      benchmark::RegisterBenchmark(
          ReduceName(DataType::kFloat32, RedOp::kSum, isa, bytes).c_str(),
          BM_Reduce, isa, DataType::kFloat32, RedOp::kSum, bytes)
          ->ComputeStatistics("max", MaxOf);
    }
  }
  // Other types and ops, one cache-resident and one DRAM size each.
  constexpr size_t kCachedBytes = 256u << 10;
  const std::pair<DataType, RedOp> others[] = {
      {DataType::kFloat32, RedOp::kMax}, {DataType::kFloat64, RedOp::kSum},
      {DataType::kFloat16, RedOp::kSum}, {DataType::kBfloat16, RedOp::kSum},
      {DataType::kInt32, RedOp::kSum},   {DataType::kInt64, RedOp::kProd},
      {DataType::kInt8, RedOp::kProd}};
  for (Isa isa : SupportedIsas()) {
    for (const auto& [t, op] : others) {
      for (size_t bytes : {kCachedBytes, kMaxBytes}) {
        benchmark::RegisterBenchmark(ReduceName(t, op, isa, bytes).c_str(),
                                     BM_Reduce, isa, t, op, bytes)
            ->ComputeStatistics("max", MaxOf);
      }
    }
    for (size_t bytes : {kCachedBytes, kMaxBytes}) {
      const std::string name =
          std::string("divide/float/") + IsaName(isa) + "/" + SizeName(bytes);
      benchmark::RegisterBenchmark(name.c_str(), BM_DivideBy, isa,
                                   DataType::kFloat32, bytes)
          ->ComputeStatistics("max", MaxOf);
    }
  }
}

// Prints the usual console table and remembers each run's rates for the
// fp32-sum / memcpy summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      // Each repetition, or only the "max" aggregate when the display is
      // limited to aggregates; the best rate wins either way.
      const bool usable =
          run.run_type == Run::RT_Iteration ||
          (run.run_type == Run::RT_Aggregate && run.aggregate_name == "max");
      if (!usable || run.iterations == 0) continue;
      const auto traffic = run.counters.find("bytes_per_second");
      const auto out = run.counters.find("out_bytes_per_second");
      if (traffic == run.counters.end() || out == run.counters.end()) continue;
      Rates& best = rates_[run.run_name.function_name];
      best.traffic = std::max(best.traffic, traffic->second.value);
      best.output = std::max(best.output, out->second.value);
    }
  }

  void PrintSummary() const {
    std::printf(
        "\nfp32 sum vs memcpy (best of the repetitions), active ISA %s."
        "  GB/s = 1e9 bytes/s.\n"
        "traffic: reduce 3N bytes, memcpy 2N bytes per operation (N = buffer "
        "size);"
        " output: N per operation.\n",
        IsaName(ActiveIsa()));
    std::printf("%-8s %-7s %14s %14s %14s %14s\n", "size", "isa", "reduce GB/s",
                "memcpy GB/s", "traffic ratio", "output ratio");
    for (size_t bytes : AllSizes()) {
      const auto mem = rates_.find(MemcpyName(bytes));
      if (mem == rates_.end()) continue;
      for (Isa isa : SupportedIsas()) {
        const auto red = rates_.find(
            ReduceName(DataType::kFloat32, RedOp::kSum, isa, bytes));
        if (red == rates_.end()) continue;
        std::printf("%-8s %-7s %14.2f %14.2f %13.0f%% %13.0f%%\n",
                    SizeName(bytes).c_str(), IsaName(isa),
                    red->second.traffic / 1e9, mem->second.traffic / 1e9,
                    100.0 * red->second.traffic / mem->second.traffic,
                    100.0 * red->second.output / mem->second.output);
      }
    }
  }

 private:
  struct Rates {
    double traffic = 0;
    double output = 0;
  };
  std::map<std::string, Rates> rates_;
};

}  // namespace
}  // namespace meridian::math

int main(int argc, char** argv) {
  // Defaults first, so that the same flags on the command line win.
  std::vector<char*> args = {argv[0]};
  char reps[] = "--benchmark_repetitions=3";
  char min_time[] = "--benchmark_min_time=0.2";
  char aggregates[] = "--benchmark_display_aggregates_only=true";
  args.insert(args.end(), {reps, min_time, aggregates});
  args.insert(args.end(), argv + 1, argv + argc);
  int args_count = static_cast<int>(args.size());
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;
  meridian::math::RegisterAll();
  meridian::math::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary();
  benchmark::Shutdown();
  return 0;
}
