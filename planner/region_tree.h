// Region-aware trees for small all-reduces across regions.
//
// The double binary tree (tree.h) shapes itself by ring position, so across
// regions a root-to-leaf path may cross the slow trunk between two regions
// several times.  Here the shape is explicit: a tree given as parent[rank],
// and a generator of the one that suits far-apart regions, where every
// region is a binary tree under its first member and the region roots form
// a binary tree of their own.  A root-to-leaf path then crosses each region
// boundary at most once, so a latency-bound all-reduce pays two trunk
// latencies (up, down) plus about 2 log2(region size) local hops.
#ifndef MERIDIAN_PLANNER_REGION_TREE_H_
#define MERIDIAN_PLANNER_REGION_TREE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "planner/plan.h"

namespace meridian::planner {

// OK when parent[] describes one rooted tree over ranks 0..size-1: every
// entry is -1 (the root) or a rank in range other than itself, exactly one
// entry is -1, and following parents from any rank reaches the root (no
// cycles).  InvalidArgument naming the first problem otherwise.
absl::Status ValidateParents(const std::vector<int32_t>& parent);

// The region tree over `groups` (regions in order, each listing its member
// ranks, first member = the region's root): inside a region member i hangs
// under member (i-1)/2; region j's root hangs under region (j-1)/2's root;
// region 0's root is the root of the whole tree (parent -1).  Returns
// parent[rank] for ranks 0..N-1 (N: the number of members in all groups),
// or an empty vector when the groups are not a partition of 0..N-1 (a rank
// missing, repeated or out of range, or an empty group).
std::vector<int32_t> RegionTreeParents(const std::vector<std::vector<int32_t>>& groups);

// All-reduce over the tree parent[] (which must pass ValidateParents and
// have req.world_size entries; the tree replaces req.order): each rank
// receive-reduces its children's partial sums into its own, sends the sum of
// its subtree to its parent, the root computes each chunk's final value once
// (dividing for kAvg) and the result travels back down, these exact bytes to
// every rank.  Pipelined in chunks of req.chunk_elems; in place or not; a
// zero count still sends one empty message each way over every edge so that
// every pair checks the other's operation descriptor.  Other collectives,
// and a world of one rank: BuildRingPlan(req).
Plan BuildTreePlanFromParents(const PlanRequest& req, const std::vector<int32_t>& parent);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_REGION_TREE_H_
