// Hierarchical all-reduce for peers in groups (typically regions: cheap
// links inside a group, expensive ones between groups).  Only 1/s of the
// data crosses between groups per member (s: members per group), and the
// crossing runs on s rings in parallel, one per shard.  The buffer is cut
// into pieces that flow through the phases as a pipeline, so the links
// inside the groups work on some pieces while the links between groups
// carry others.
#ifndef MERIDIAN_PLANNER_HIERARCHICAL_H_
#define MERIDIAN_PLANNER_HIERARCHICAL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "planner/plan.h"

namespace meridian::planner {

struct HierarchicalOptions {
  // How many pieces the buffer is cut into for the pipeline; 0: the choice
  // of HierarchicalPieces.  Clamped to 1..(chunks in the buffer), so no
  // piece is empty.  1 runs the phases one after the other.
  int pieces = 0;
};

// `groups` partition the ranks; each group lists its members in ring
// order, and the order of the groups is the ring order between groups.
// Every rank must pass identical groups (and options).  For all-reduce,
// with s = the smallest group's size, each piece of the buffer goes
// through:
//   1. inside each group, a ring reduce-scatter into s shards: member i
//      (i < s) ends with shard i summed over its group; members at index
//      >= s contribute but own no shard;
//   2. for each shard k, a ring all-reduce between groups among the k-th
//      members of all groups (all shards at once, pipelined); the member
//      that ends the ring's reduce-scatter computes each final value once;
//   3. inside each group, a ring all-gather of the shards.
// while the other pieces are in other phases (hierarchical.cc says how).
// One group is a ring; groups of one member each are a ring over groups.
// Other collectives: BuildRingPlan along the groups' concatenated order.
// req.order is not used: the groups give the order.
Plan BuildHierarchicalPlan(const PlanRequest& req,
                           const std::vector<std::vector<int32_t>>& groups);
Plan BuildHierarchicalPlan(const PlanRequest& req,
                           const std::vector<std::vector<int32_t>>& groups,
                           const HierarchicalOptions& options);

// The piece count BuildHierarchicalPlan uses by default for an all-reduce
// of `count` elements: as many pieces as keep at least two chunks in every
// part that crosses between groups, at most 16; 1 when a pipeline has
// nothing to overlap (one group, or groups of one member each).
int HierarchicalPieces(uint64_t count, uint64_t chunk_elems,
                       const std::vector<std::vector<int32_t>>& groups);

// OK when `groups` are non-empty and list every rank of 0..world_size-1
// exactly once; InvalidArgument naming the first problem otherwise.
absl::Status ValidateGroups(const std::vector<std::vector<int32_t>>& groups, int world_size);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_HIERARCHICAL_H_
