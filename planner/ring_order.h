// Ring order from the topology: which peer follows which in the ring plans.
//
// A ring all-reduce moves the same number of bytes over every ring edge at
// the same time, so its speed is set by the slowest edge under that load
// (the bottleneck), and its per-step latency by the sum of the edges'
// latencies.  ScoreRing computes both; OptimizeRingOrder looks for the ring
// with the highest bottleneck, and among rings within 1% of it, the lowest
// latency sum.
#ifndef MERIDIAN_PLANNER_RING_ORDER_H_
#define MERIDIAN_PLANNER_RING_ORDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "planner/topology.h"

namespace meridian::planner {

// Rings whose bottlenecks differ by less than this fraction are equally
// fast for the optimizer, which then prefers the lower latency sum.  Probed
// rates vary by 10-20 % from run to run (slow start on long paths, a shared
// host), so finer differences are noise: on the shuffled three-continents
// group a 1 % tolerance picked a ring over the two longest trunks that
// measured a few percent "faster" and ran at 72 % of the trunk rate.
inline constexpr double kRingBottleneckTolerance = 0.10;
// OptimizeRingOrder is exact up to this many peers.
inline constexpr int kExactRingOrderMaxPeers = 10;

struct RingScore {
  // Rate (bytes/s) every ring edge sustains while all of them carry
  // traffic; +infinity for a ring without edges (one peer).
  double bottleneck_Bps = 0;
  // One-way latencies summed around the ring.
  double latency_sum_s = 0;
  // The first slowest edge in ring order (-1: none).
  int bottleneck_from = -1, bottleneck_to = -1;
  // What limits that edge: "pair bandwidth", "egress of 3", "ingress of 5",
  // "trunk 0->2 shared by 2 ring edges".
  std::string bottleneck_limit;

  std::string Explain() const;
};

// Edge a -> b of the ring sustains min(bandwidth(a, b), egress(a),
// ingress(b), trunk(region a, region b) / number of ring edges crossing that
// trunk in that direction); limits of 0 are "unlimited" and the trunk only
// applies between different regions.  `order` lists every peer once.
RingScore ScoreRing(const LinkModel& net, const std::vector<int32_t>& order);

// The best ring for `net`: highest bottleneck first (bottlenecks within
// kRingBottleneckTolerance of the best count as equal), lowest latency sum
// second, then the lexicographically smallest order.  Exact for
// size() <= kExactRingOrderMaxPeers; above that a heuristic (each region
// visited once, in an optimized region order, then local search under the
// same objective with a bounded amount of work).  Deterministic; the result
// starts at rank 0.
std::vector<int32_t> OptimizeRingOrder(const LinkModel& net);

// The regions as groups in the order the ring visits them, each group's
// members in ring order.  The walk starts where the region of order[0] was
// entered (so a region that wraps around the end of `order` stays one
// group); a region the ring visits more than once is one group at its first
// visit, its members in the order the walk meets them.
std::vector<std::vector<int32_t>> RegionGroups(const LinkModel& net,
                                               const std::vector<int32_t>& order);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_RING_ORDER_H_
