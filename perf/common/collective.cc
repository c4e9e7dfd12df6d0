#include "perf/common/collective.h"

#include <algorithm>

namespace meridian::perf {

const char* CollectiveName(Collective coll) {
  switch (coll) {
    case Collective::kAllReduce:
      return "all_reduce";
    case Collective::kBroadcast:
      return "broadcast";
    case Collective::kReduce:
      return "reduce";
    case Collective::kAllGather:
      return "all_gather";
    case Collective::kReduceScatter:
      return "reduce_scatter";
  }
  return "?";
}

bool HasRedOp(Collective coll) {
  return coll == Collective::kAllReduce || coll == Collective::kReduce ||
         coll == Collective::kReduceScatter;
}

bool HasRoot(Collective coll) {
  return coll == Collective::kBroadcast || coll == Collective::kReduce;
}

bool OutputIdenticalOnAllRanks(Collective coll) {
  return coll == Collective::kAllReduce || coll == Collective::kBroadcast ||
         coll == Collective::kAllGather;
}

Geometry ComputeGeometry(Collective coll, size_t bytes, size_t type_bytes,
                         int nranks) {
  Geometry g;
  const size_t count = bytes / type_bytes;
  const size_t n = static_cast<size_t>(nranks);
  switch (coll) {
    case Collective::kAllReduce:
    case Collective::kBroadcast:
    case Collective::kReduce:
      g.send_count = g.recv_count = g.param_count = count;
      break;
    case Collective::kAllGather:
    case Collective::kReduceScatter: {
      // Keep every rank's block 16-byte aligned, as nccl-tests does.
      const size_t align = std::max<size_t>(1, 16 / type_bytes);
      const size_t base = (count / n) / align * align;
      g.param_count = base;
      if (coll == Collective::kAllGather) {
        g.send_count = base;
        g.recv_count = base * n;
        g.send_inplace_offset = base;
      } else {
        g.send_count = base * n;
        g.recv_count = base;
        g.recv_inplace_offset = base;
      }
      break;
    }
  }
  return g;
}

size_t ReportedBytes(const Geometry& geometry, size_t type_bytes) {
  return std::max(geometry.send_count, geometry.recv_count) * type_bytes;
}

double AlgBandwidth(Collective coll, size_t param_count, size_t type_bytes,
                    int nranks, double seconds) {
  double bytes =
      static_cast<double>(param_count) * static_cast<double>(type_bytes);
  if (coll == Collective::kAllGather || coll == Collective::kReduceScatter)
    bytes *= nranks;
  return seconds > 0 ? bytes / 1.0e9 / seconds : 0.0;
}

double BusBandwidthFactor(Collective coll, int nranks) {
  const double n = nranks;
  switch (coll) {
    case Collective::kAllReduce:
      return 2.0 * (n - 1) / n;
    case Collective::kAllGather:
    case Collective::kReduceScatter:
      return (n - 1) / n;
    case Collective::kBroadcast:
    case Collective::kReduce:
      return 1.0;
  }
  return 1.0;
}

}  // namespace meridian::perf
