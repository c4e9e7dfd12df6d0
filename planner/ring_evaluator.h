// Incremental ring scoring for the local search of ring_order_search.cc
// (internal).  A move replaces a few ring edges by others; the evaluator
// keeps the edges' capacities and the trunk crossing counts in ordered
// multisets, so the bottleneck after a move costs O(moved edges x log N)
// instead of a pass over the ring.
#ifndef MERIDIAN_PLANNER_RING_EVALUATOR_H_
#define MERIDIAN_PLANNER_RING_EVALUATOR_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "planner/ring_order_internal.h"
#include "planner/topology.h"

namespace meridian::planner::ring_internal {

struct Edge {
  int32_t from, to;
};

// The bottleneck of a ring and how many edges sit exactly at it (fewer is
// better at the same rate: it takes fewer moves to lift the bottleneck,
// which gets the search across plateaus).
struct BottleneckScore {
  double rate = 0;
  int64_t edges_at_rate = 0;
  bool BetterThan(const BottleneckScore& o) const {
    return rate > o.rate || (rate == o.rate && edges_at_rate < o.edges_at_rate);
  }
};

class RingEvaluator {
 public:
  explicit RingEvaluator(const LinkModel& net) : net_(net), keys_(net) {}

  void Reset(const std::vector<int32_t>& ring);
  BottleneckScore Current() const;
  // The score after replacing `removed` (edges of the ring) by `added`.
  BottleneckScore Try(const std::vector<Edge>& removed, const std::vector<Edge>& added) const;
  double LatencyDelta(const std::vector<Edge>& removed, const std::vector<Edge>& added) const;
  void Apply(const std::vector<Edge>& removed, const std::vector<Edge>& added);
  // What `e`, an edge of the ring, sustains now (trunk sharing included).
  double EffectiveCapacity(Edge e) const;
  // Running sum (drifts by rounding over many moves: for comparisons only).
  double latency_sum() const { return latency_sum_; }

 private:
  struct Terms {
    int64_t trunks = 0, edges = 0;  // trunks with this share, their crossings
  };
  int64_t CrossingsOf(int64_t key) const;
  // Trunk count changes of a move, merged by trunk, zero changes dropped.
  void TrunkDeltas(const std::vector<Edge>& removed, const std::vector<Edge>& added) const;
  void AddTerm(double share, int64_t edges, int sign);

  const LinkModel& net_;
  TrunkKeys keys_;
  std::map<double, int64_t> caps_;         // capacity before sharing -> edges
  std::map<int64_t, int64_t> crossings_;   // trunk key -> ring edges on it (> 0)
  std::map<double, Terms> shares_;         // trunk capacity / crossings
  double latency_sum_ = 0;
  // Scratch of Try (kept to avoid allocating per candidate move).
  mutable std::vector<double> removed_caps_;
  mutable std::vector<std::pair<int64_t, int>> deltas_;
  mutable std::vector<std::pair<double, int64_t>> gone_shares_, new_shares_;
};

}  // namespace meridian::planner::ring_internal

#endif  // MERIDIAN_PLANNER_RING_EVALUATOR_H_
