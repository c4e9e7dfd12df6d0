// Pieces shared by ring_order.cc (scoring, dispatch), ring_order_exact.cc
// (branch and bound) and ring_order_search.cc (heuristic): not a public
// interface.
#ifndef MERIDIAN_PLANNER_RING_ORDER_INTERNAL_H_
#define MERIDIAN_PLANNER_RING_ORDER_INTERNAL_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "planner/topology.h"

namespace meridian::planner::ring_internal {

// What edge i -> j sustains before trunk sharing.  Every scorer uses this
// one function, so the exact search, the heuristic and ScoreRing compare
// bit-identical numbers.
inline double EdgeCapacity(const LinkModel& net, int i, int j) {
  double c = net.bandwidth(i, j);
  if (double e = net.egress(i); e > 0) c = std::min(c, e);
  if (double in = net.ingress(j); in > 0) c = std::min(c, in);
  return c;
}

// Identifies the shared trunk an edge crosses: region(i) * num_regions +
// region(j), or -1 when the edge stays in a region or the trunk is
// unlimited.
class TrunkKeys {
 public:
  explicit TrunkKeys(const LinkModel& net) : net_(net), regions_(net.num_regions()) {}
  int64_t Key(int i, int j) const {
    const int a = net_.region(i), b = net_.region(j);
    if (a == b || net_.trunk(a, b) <= 0) return -1;
    return static_cast<int64_t>(a) * regions_ + b;
  }
  double Capacity(int64_t key) const {
    return net_.trunk(static_cast<int>(key / regions_), static_cast<int>(key % regions_));
  }
  int from_region(int64_t key) const { return static_cast<int>(key / regions_); }
  int to_region(int64_t key) const { return static_cast<int>(key % regions_); }

 private:
  const LinkModel& net_;
  int64_t regions_;
};

// Exact optimum for net.size() <= kExactRingOrderMaxPeers (ring_order.h).
std::vector<int32_t> ExactRingOrder(const LinkModel& net);
// Heuristic for any size; starts at rank 0.
std::vector<int32_t> HeuristicRingOrder(const LinkModel& net);

}  // namespace meridian::planner::ring_internal

#endif  // MERIDIAN_PLANNER_RING_ORDER_INTERNAL_H_
