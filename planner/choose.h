// Picks the plan for one (collective, size, data type) on one epoch's
// network: generates the candidates a network engineer would draw — the
// ring in rank order, the ring in the order that best fits the links, a
// double binary tree, a tree that crosses each region boundary once (small
// messages), a hierarchy over the regions, and a hierarchy that hangs slow
// peers off a well-connected neighbour — predicts each one's
// time with the simulator against the cost model, and takes the fastest.
// Deterministic: the same network, request and config give the same
// choice on every rank.
#ifndef MERIDIAN_PLANNER_CHOOSE_H_
#define MERIDIAN_PLANNER_CHOOSE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "planner/cost_model.h"
#include "planner/plan.h"
#include "planner/topology.h"

namespace meridian::planner {

enum class Algorithm { kRing, kTree, kHierarchical };
const char* AlgorithmName(Algorithm a);

struct PlannerConfig {
  // Only candidates of this algorithm (MERIDIAN_ALGO); false: any.
  bool forced = false;
  Algorithm force = Algorithm::kRing;
  // false: rings keep rank order (MERIDIAN_RING_ORDER=rank).
  bool reorder_ring = true;
  // Another candidate replaces the rank-order ring only when predicted at
  // least this much faster: measured links are noisy (on a shared host by
  // tens of percent), and a plan switch on noise buys nothing.
  double min_gain = 0.10;
  CostParams cost;
};

struct Candidate {
  Algorithm algorithm = Algorithm::kRing;
  std::string name;                          // e.g. "ring (topology order)"
  std::vector<int32_t> order;                // ring / tree order; empty: ranks
  std::vector<std::vector<int32_t>> groups;  // hierarchical only
  std::vector<int32_t> parents;  // tree over these parents (region tree)
  double predicted_s = -1;                   // < 0: not predicted
  std::string busiest;                       // what the simulation waited on
};

struct PlanChoice {
  Candidate chosen;
  std::vector<Candidate> considered;  // in generation order
  // Several lines: the choice, its predicted time and bottleneck, and every
  // other candidate's prediction.
  std::string Explain() const;
};

// `shape` gives collective, count, root, in_place, average, chunk_elems
// (rank and world size are ignored: world size is net.size()).
PlanChoice ChoosePlan(const LinkModel& net, const PlanRequest& shape,
                      size_t elem_size, const PlannerConfig& config);

// The chosen candidate's plan for request.rank.
Plan BuildCandidatePlan(const Candidate& candidate, const PlanRequest& request);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_CHOOSE_H_
