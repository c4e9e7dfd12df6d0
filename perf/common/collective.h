// What each benchmarked collective moves: buffer sizes for a given test size,
// in-place layout, and the bandwidth formulas, all as nccl-tests defines them.
#ifndef MERIDIAN_PERF_COMMON_COLLECTIVE_H_
#define MERIDIAN_PERF_COMMON_COLLECTIVE_H_

#include <cstddef>

namespace meridian::perf {

enum class Collective {
  kAllReduce,
  kBroadcast,
  kReduce,
  kAllGather,
  kReduceScatter
};

// "all_reduce", "broadcast", ...
const char* CollectiveName(Collective coll);
bool HasRedOp(Collective coll);
bool HasRoot(Collective coll);
// True when every rank ends with the same output bytes.
bool OutputIdenticalOnAllRanks(Collective coll);

// Element counts for one test size.  param_count is the count passed to the
// call (per rank for all-gather and reduce-scatter).  In place, the send
// buffer starts send_inplace_offset * rank elements into the receive buffer
// and the receive buffer recv_inplace_offset * rank elements into it.
struct Geometry {
  size_t send_count = 0;
  size_t recv_count = 0;
  size_t param_count = 0;
  size_t send_inplace_offset = 0;
  size_t recv_inplace_offset = 0;
};

// nccl-tests' *GetCollByteCount: for all-gather and reduce-scatter the size
// is the whole buffer and the per-rank count is rounded down to 16 bytes.
Geometry ComputeGeometry(Collective coll, size_t bytes, size_t type_bytes,
                         int nranks);

// The bytes in the "size" column: the larger of the two buffers.
size_t ReportedBytes(const Geometry& geometry, size_t type_bytes);

// algbw in GB/s (1e9 bytes per second), from nccl-tests' *GetBw.
double AlgBandwidth(Collective coll, size_t param_count, size_t type_bytes,
                    int nranks, double seconds);
// busbw = algbw * factor: all-reduce 2(n-1)/n; all-gather and reduce-scatter
// (n-1)/n; broadcast and reduce 1.
double BusBandwidthFactor(Collective coll, int nranks);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_COLLECTIVE_H_
