#include "perf/common/driver.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "meridian.h"
#include "perf/common/args.h"
#include "perf/common/datatype.h"
#include "perf/common/fill_check.h"
#include "perf/common/report.h"

#define PERF_CHECK(call)                                 \
  do {                                                   \
    const mdnResult_t perf_result_ = (call);             \
    if (perf_result_ != mdnSuccess) return perf_result_; \
  } while (0)

namespace meridian::perf {
namespace {

struct FreeDeleter {
  void operator()(unsigned char* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<unsigned char[], FreeDeleter>;

// Page-aligned, never empty, so that pointers stay valid at count 0.
Buffer Allocate(size_t bytes) {
  constexpr size_t kAlign = 4096;
  const size_t rounded =
      std::max(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
  return Buffer(
      static_cast<unsigned char*>(std::aligned_alloc(kAlign, rounded)));
}

// One row of the table: a size for one (type, op, root).
struct Case {
  size_t bytes;
  mdnDataType_t type;
  mdnRedOp_t op;
  int root;
};

class Benchmark {
 public:
  Benchmark(Collective coll, LaunchFn launch, const Options& options)
      : coll_(coll), launch_(launch), options_(options) {}
  ~Benchmark() { mdnCommDestroy(comm_); }

  mdnResult_t Setup();
  // Runs every row; *wrong_p is the number of wrong values over all ranks.
  mdnResult_t RunAll(int64_t* wrong_p);
  // Waits for the peers' last operations and leaves the group.
  mdnResult_t Finish();
  const char* LastError() const {
    return comm_ ? mdnCommGetLastError(comm_) : mdnGetLastError();
  }
  // What was running when a call failed, for the error message.
  const std::string& step() const { return step_; }
  int rank() const { return rank_; }
  int nranks() const { return nranks_; }

 private:
  mdnResult_t MeasureRow(const Case& c, Row* row_p);
  mdnResult_t Measure(const Case& c, const Geometry& g,
                      const DataPattern& pattern, size_t expected_count,
                      bool in_place, Measurement* m);
  void PrepareBuffers(const Case& c, const Geometry& g,
                      const DataPattern& pattern, bool in_place,
                      CollArgs* args);
  void SetStep(const Case& c, bool in_place, const char* what);

  const Collective coll_;
  const LaunchFn launch_;
  const Options options_;
  mdnComm_t comm_ = nullptr;
  int rank_ = 0;
  int nranks_ = 1;
  RunInfo info_;
  Buffer send_, recv_, expected_;
  std::vector<Row> rows_;
  std::string step_ = "mdnCommCreate";
};

mdnResult_t Benchmark::Setup() {
  PERF_CHECK(mdnCommCreate(nullptr, &comm_));
  PERF_CHECK(mdnCommRank(comm_, &rank_));
  PERF_CHECK(mdnCommSize(comm_, &nranks_));
  info_.coll = coll_;
  info_.nranks = nranks_;
  info_.library_version = mdnGetVersionString();
  PERF_CHECK(mdnCommConnectionsPerPeer(comm_, &info_.connections_per_peer));

  // One allocation for the largest case; the in-place buffer (recv_) holds
  // whichever of send and receive is larger.
  size_t send_bytes = 0, recv_bytes = 0;
  for (size_t bytes : SizeSweep(options_)) {
    for (mdnDataType_t type : options_.types) {
      const size_t tb = DataTypeBytes(type);
      const Geometry g = ComputeGeometry(coll_, bytes, tb, nranks_);
      send_bytes = std::max(send_bytes, g.send_count * tb);
      recv_bytes = std::max(recv_bytes, ReportedBytes(g, tb));
    }
  }
  send_ = Allocate(send_bytes);
  recv_ = Allocate(recv_bytes);
  if (options_.check) expected_ = Allocate(recv_bytes);
  if (!send_ || !recv_ || (options_.check && !expected_)) {
    std::fprintf(stderr, "rank %d: cannot allocate %zu + %zu bytes\n", rank_,
                 send_bytes, recv_bytes);
    return mdnSystemError;
  }
  return mdnSuccess;
}

mdnResult_t Benchmark::Finish() {
  step_ = "mdnCommDestroy";
  const mdnResult_t result = mdnCommDestroy(comm_);
  comm_ = nullptr;
  return result;
}

void Benchmark::SetStep(const Case& c, bool in_place, const char* what) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s of %zu B %s", what, c.bytes,
                DataTypeName(c.type));
  step_ = buf;
  if (HasRedOp(coll_)) step_ += std::string(" ") + RedOpName(c.op);
  if (HasRoot(coll_)) step_ += " root " + std::to_string(c.root);
  if (in_place) step_ += " in place";
}

mdnResult_t Benchmark::RunAll(int64_t* wrong_p) {
  std::vector<int> roots{-1};
  if (HasRoot(coll_)) {
    roots = {options_.root};
    if (options_.root < 0) {
      roots.clear();
      for (int r = 0; r < nranks_; ++r) roots.push_back(r);
    }
  }
  const std::vector<mdnRedOp_t> ops =
      HasRedOp(coll_) ? options_.ops : std::vector<mdnRedOp_t>{mdnSum};
  const std::vector<size_t> sizes = SizeSweep(options_);

  if (rank_ == 0) PrintHeader(stdout, info_, options_);
  for (mdnDataType_t type : options_.types) {
    for (mdnRedOp_t op : ops) {
      for (int root : roots) {
        for (size_t bytes : sizes) {
          Row row;
          PERF_CHECK(MeasureRow(Case{bytes, type, op, root}, &row));
          if (rank_ == 0) {
            std::printf("%s\n", FormatRow(row).c_str());
            std::fflush(stdout);
          }
          rows_.push_back(row);
        }
      }
    }
  }
  const Summary summary = Summarize(rows_);
  if (rank_ == 0) {
    PrintFooter(stdout, summary);
    std::string error;
    if (!options_.json_path.empty() &&
        !WriteJson(options_.json_path, info_, options_, rows_, &error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return mdnSystemError;
    }
  }
  *wrong_p = summary.wrong;
  return mdnSuccess;
}

mdnResult_t Benchmark::MeasureRow(const Case& c, Row* row_p) {
  const size_t tb = DataTypeBytes(c.type);
  const Geometry g = ComputeGeometry(coll_, c.bytes, tb, nranks_);
  const DataPattern pattern = MakePattern(coll_, c.type, c.op, nranks_);
  size_t expected_count = 0;
  if (options_.check) {
    expected_count =
        FillExpected(coll_, pattern, g, rank_, c.root, expected_.get());
  }
  Row row;
  row.bytes = ReportedBytes(g, tb);
  row.count = g.param_count;
  row.type = DataTypeName(c.type);
  row.redop = HasRedOp(coll_) ? RedOpName(c.op) : "none";
  row.root = c.root;
  PERF_CHECK(Measure(c, g, pattern, expected_count, /*in_place=*/false,
                     &row.out_of_place));
  PERF_CHECK(
      Measure(c, g, pattern, expected_count, /*in_place=*/true, &row.in_place));
  *row_p = row;
  return mdnSuccess;
}

// Fresh inputs, poisoned outputs, and the call's arguments for the mode.
void Benchmark::PrepareBuffers(const Case& c, const Geometry& g,
                               const DataPattern& pattern, bool in_place,
                               CollArgs* args) {
  const size_t tb = DataTypeBytes(c.type);
  unsigned char* send = send_.get();
  unsigned char* recv = recv_.get();
  if (in_place) {
    send = recv + g.send_inplace_offset * rank_ * tb;
    recv = recv + g.recv_inplace_offset * rank_ * tb;
    FillPoison(recv_.get(), ReportedBytes(g, tb));
  } else {
    FillPoison(recv, g.recv_count * tb);
  }
  FillInput(coll_, pattern, g, rank_, send);
  *args =
      CollArgs{send, recv, g.param_count, c.type, c.op, std::max(c.root, 0)};
}

mdnResult_t Benchmark::Measure(const Case& c, const Geometry& g,
                               const DataPattern& pattern,
                               size_t expected_count, bool in_place,
                               Measurement* m) {
  CollArgs args;
  PrepareBuffers(c, g, pattern, in_place, &args);
  double seconds = 0.0, max_seconds = 0.0;
  SetStep(c, in_place, "timed loop");
  PERF_CHECK(TimeCollective(comm_, launch_, args, options_.warmup_iters,
                            options_.iters, options_.blocking, &seconds));
  // The slowest rank sets the time, so every rank reports the same row.
  SetStep(c, in_place, "time agreement (all-reduce)");
  PERF_CHECK(
      mdnAllReduce(comm_, &seconds, &max_seconds, 1, mdnFloat64, mdnMax));
  m->time_us = max_seconds * 1e6;
  m->algbw = AlgBandwidth(coll_, g.param_count, DataTypeBytes(c.type), nranks_,
                          max_seconds);
  m->busbw = m->algbw * BusBandwidthFactor(coll_, nranks_);
  if (!options_.check) return mdnSuccess;

  PrepareBuffers(c, g, pattern, in_place, &args);
  SetStep(c, in_place, "checked run");
  PERF_CHECK(launch_(comm_, args, nullptr));
  int64_t wrong = static_cast<int64_t>(
      CountWrong(pattern, args.recvbuf, expected_.get(), expected_count));
  SetStep(c, in_place, "check agreement (all-reduce)");
  if (OutputIdenticalOnAllRanks(coll_)) {
    // max(h) and max(~h) = ~min(h): equal bytes everywhere iff they agree.
    const uint64_t h =
        HashBytes(args.recvbuf, expected_count * DataTypeBytes(c.type));
    uint64_t local[2] = {h, ~h}, global[2] = {0, 0};
    PERF_CHECK(mdnAllReduce(comm_, local, global, 2, mdnUint64, mdnMax));
    if (global[0] != ~global[1] && rank_ == 0) ++wrong;  // counted once
  }
  int64_t total = 0;
  PERF_CHECK(mdnAllReduce(comm_, &wrong, &total, 1, mdnInt64, mdnSum));
  m->wrong = total;
  return mdnSuccess;
}

// Every rank parses the same arguments; before the communicator exists,
// MERIDIAN_RANK (when the launcher sets it) picks the one that reports.
bool SpeaksBeforeJoin() {
  const char* rank = std::getenv("MERIDIAN_RANK");
  return !rank || std::atoi(rank) == 0;
}

}  // namespace

int RunBenchmark(Collective coll, LaunchFn launch, int argc, char** argv) {
  Options options;
  std::string error;
  switch (ParseArgs(argc, argv, &options, &error)) {
    case ParseOutcome::kHelp:
      if (SpeaksBeforeJoin()) PrintUsage(stdout, argv[0]);
      return 0;
    case ParseOutcome::kError:
      if (SpeaksBeforeJoin()) {
        std::fprintf(stderr, "%s: %s (try -h)\n", argv[0], error.c_str());
      }
      return 2;
    case ParseOutcome::kRun:
      break;
  }
  Benchmark bench(coll, launch, options);
  int64_t wrong = 0;
  mdnResult_t result = bench.Setup();
  if (result == mdnSuccess && HasRoot(coll) && options.root >= bench.nranks()) {
    if (bench.rank() == 0) {
      std::fprintf(stderr, "%s: root %d is not below the world size %d\n",
                   argv[0], options.root, bench.nranks());
    }
    return 2;
  }
  if (result == mdnSuccess) result = bench.RunAll(&wrong);
  if (result == mdnSuccess) result = bench.Finish();
  if (result == mdnSuccess) return wrong ? 1 : 0;  // the footer said FAILED
  std::fprintf(stderr, "rank %d: %s_perf failed in %s: %s: %s\n", bench.rank(),
               CollectiveName(coll), bench.step().c_str(),
               mdnGetErrorString(result), bench.LastError());
  return 2;
}

}  // namespace meridian::perf
