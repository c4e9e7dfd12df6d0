// Tree plans.  A ring needs 2(n-1) hops of latency per chunk; a binary
// tree needs about 2 log2(n), which wins for small messages and many peers
// far apart.
#ifndef MERIDIAN_PLANNER_TREE_H_
#define MERIDIAN_PLANNER_TREE_H_

#include "planner/plan.h"

namespace meridian::planner {

// All-reduce: a double binary tree over the positions of req.order (rank
// order when empty).  Two complementary binary trees each reduce one half
// of the buffer up to their root, which computes the final value once (with
// the kAvg division), then broadcast it back down; chunks are pipelined, so
// reducing chunk c+1 up overlaps broadcasting chunk c down.  A rank that is
// interior in one tree is a leaf in the other, so every rank sends and
// receives about the same volume (about the whole buffer each way).
// Broadcast and reduce: one pipelined binary tree rooted at req.root.
// Other collectives: BuildRingPlan(req).
Plan BuildTreePlan(const PlanRequest& req);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_TREE_H_
