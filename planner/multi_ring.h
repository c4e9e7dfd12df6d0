// Several rings at once.  One ring is limited by its slowest link; rings
// over different links add up their bandwidth, so the planner splits an
// all-reduce over rings whose links differ (ideally edge-disjoint), each
// part sized to its ring's bandwidth.
#ifndef MERIDIAN_PLANNER_MULTI_RING_H_
#define MERIDIAN_PLANNER_MULTI_RING_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "planner/plan.h"

namespace meridian::planner {

// At most this many rings: each ring's receive-reduces get an equal share
// of the executor's staging slots (8), and a ring needs at least one.
inline constexpr int kMaxRings = 8;

// `count` cut into weights.size() parts in proportion to the (positive)
// weights: floors first, then one more element to the parts with the
// largest remainders (ties: the lower index); when count >= the number of
// parts, every part gets at least one element (taken from the largest
// part).  Deterministic: every rank computes the same split.
std::vector<uint64_t> SplitByWeights(uint64_t count, const std::vector<double>& weights);

// All-reduce over several rings at once: the buffer is cut into contiguous
// parts by SplitByWeights, and part i runs a ring all-reduce along
// rings[i] (each a ring order: position -> rank, over all ranks).  Every
// rank appends the rings' steps in ring order, so the messages between two
// peers are in the same order at both ends.
//
// Head of line: when two rings share a directed link (A sends to B in
// both), their messages on it form one queue, in ring order, and the
// executor posts a peer's sends strictly in order: ring 1's chunks on that
// link wait behind all of ring 0's, so the rings stop overlapping there and
// the shared link carries both parts one after the other.  The planner
// therefore prefers edge-disjoint rings; sharing is correct, only slower.
//
// Other collectives: BuildRingPlan along rings[0].  req.order is not used.
Plan BuildMultiRingPlan(const PlanRequest& req, const std::vector<std::vector<int32_t>>& rings,
                        const std::vector<double>& weights);

// OK when there are 1..kMaxRings rings, each a permutation of
// 0..world_size-1, and one positive, finite weight per ring.
absl::Status ValidateRings(const std::vector<std::vector<int32_t>>& rings,
                           const std::vector<double>& weights, int world_size);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_MULTI_RING_H_
