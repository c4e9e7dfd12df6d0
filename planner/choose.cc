#include "planner/choose.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "planner/hierarchical.h"
#include "planner/region_tree.h"
#include "planner/ring_order.h"
#include "planner/simulator.h"
#include "planner/tree.h"

namespace meridian::planner {

namespace {

// A peer whose best link is slower than this fraction of the median peer's
// best link is a straggler: the leaf candidate hangs it off a neighbour.
constexpr double kStragglerFraction = 0.5;
// Predictions pipeline each ring segment in at most this many chunks: the
// simulated time changes little beyond, and the simulation stays fast.
constexpr uint64_t kPredictionChunksPerSegment = 16;

bool IsIdentity(const std::vector<int32_t>& order) {
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] != static_cast<int32_t>(i)) return false;
  }
  return true;
}

double PairRate(const LinkModel& net, int i, int j) {
  return std::min(net.bandwidth(i, j), net.bandwidth(j, i));
}

// Stragglers hung off their best-connected fast neighbour, the fast peers
// in `order`: groups [fast, its stragglers...] for the hierarchical plan,
// whose single shard makes each straggler send its input once and receive
// the result once — the least any all-reduce plan can move over its link.
std::vector<std::vector<int32_t>> LeafGroups(const LinkModel& net,
                                             const std::vector<int32_t>& order) {
  const int n = net.size();
  std::vector<double> best(n, 0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i != j) best[i] = std::max(best[i], PairRate(net, i, j));
    }
  }
  std::vector<double> sorted = best;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[n / 2];
  std::vector<bool> slow(n);
  int fast = 0;
  for (int i = 0; i < n; ++i) {
    slow[i] = best[i] < kStragglerFraction * median;
    fast += !slow[i];
  }
  if (fast == n || fast < 2) return {};
  std::vector<std::vector<int32_t>> groups;
  std::vector<int> group_of(n, -1);
  for (int32_t r : order) {
    if (slow[r]) continue;
    group_of[r] = static_cast<int>(groups.size());
    groups.push_back({r});
  }
  for (int32_t r : order) {
    if (!slow[r]) continue;
    int partner = -1;
    for (int j = 0; j < n; ++j) {
      if (slow[j]) continue;
      if (partner < 0 || PairRate(net, r, j) > PairRate(net, r, partner)) partner = j;
    }
    groups[group_of[partner]].push_back(r);
  }
  return groups;
}

std::string GroupsText(const std::vector<std::vector<int32_t>>& groups) {
  std::vector<std::string> parts;
  for (const auto& g : groups) parts.push_back(absl::StrCat("[", absl::StrJoin(g, " "), "]"));
  return absl::StrJoin(parts, " ");
}

void Predict(const LinkModel& net, const PlanRequest& shape, size_t elem_size,
             const CostParams& cost, Candidate* c) {
  const int n = net.size();
  PlanRequest req = shape;
  req.world_size = n;
  const uint64_t per_segment = (shape.count + n - 1) / std::max(1, n);
  req.chunk_elems = std::max<uint64_t>(
      shape.chunk_elems,
      (per_segment + kPredictionChunksPerSegment - 1) / kPredictionChunksPerSegment);
  req.chunk_elems = std::max<uint64_t>(1, req.chunk_elems);
  std::vector<Plan> plans(n);
  for (int r = 0; r < n; ++r) {
    req.rank = r;
    plans[r] = BuildCandidatePlan(*c, req);
  }
  absl::StatusOr<SimResult> sim = Simulate(plans, net, cost, elem_size);
  if (!sim.ok()) {
    c->predicted_s = -1;
    c->busiest = absl::StrCat("not simulated: ", sim.status().message());
    return;
  }
  c->predicted_s = sim->total_s;
  c->busiest = sim->busiest.empty() ? "nothing" : sim->busiest.front().Describe();
}

}  // namespace

const char* AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kRing: return "ring";
    case Algorithm::kTree: return "tree";
    case Algorithm::kHierarchical: return "hier";
  }
  return "unknown";
}

Plan BuildCandidatePlan(const Candidate& c, const PlanRequest& request) {
  PlanRequest req = request;
  req.order = c.order;
  switch (c.algorithm) {
    case Algorithm::kTree:
      return c.parents.empty() ? BuildTreePlan(req) : BuildTreePlanFromParents(req, c.parents);
    case Algorithm::kHierarchical:
      return BuildHierarchicalPlan(req, c.groups);
    case Algorithm::kRing:
      break;
  }
  return BuildRingPlan(req);
}

PlanChoice ChoosePlan(const LinkModel& net, const PlanRequest& shape,
                      size_t elem_size, const PlannerConfig& config) {
  const int n = net.size();
  PlanChoice choice;
  std::vector<Candidate>& cands = choice.considered;
  Candidate rank_ring;
  rank_ring.name = "ring (rank order)";
  cands.push_back(rank_ring);
  if (n <= 2) {
    choice.chosen = rank_ring;
    return choice;
  }

  std::vector<int32_t> order;
  if (config.reorder_ring) {
    order = OptimizeRingOrder(net);
    if (!IsIdentity(order)) {
      Candidate ring;
      ring.name = "ring (topology order)";
      ring.order = order;
      cands.push_back(ring);
    }
  } else {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
  }
  const Collective coll = shape.collective;
  // Trees keep every subtree a contiguous run of positions, so the order
  // they get lists each region in one run (a ring order may wrap a region
  // around its end): a region then hangs off the rest by one edge.
  std::vector<int32_t> tree_order;
  for (const auto& g : RegionGroups(net, order)) {
    tree_order.insert(tree_order.end(), g.begin(), g.end());
  }
  if (IsIdentity(tree_order)) tree_order.clear();
  if (coll == Collective::kAllReduce || coll == Collective::kBroadcast ||
      coll == Collective::kReduce) {
    Candidate tree;
    tree.algorithm = Algorithm::kTree;
    tree.name = coll == Collective::kAllReduce ? "double binary tree" : "binary tree";
    tree.order = tree_order;
    cands.push_back(tree);
  }
  if (coll == Collective::kAllReduce) {
    const int regions = net.num_regions();
    if (regions > 1 && regions < n) {
      Candidate tree;
      tree.algorithm = Algorithm::kTree;
      tree.name = "region tree";
      tree.parents = RegionTreeParents(RegionGroups(net, order));
      cands.push_back(tree);
    }
    if (regions > 1 && regions < n) {
      Candidate hier;
      hier.algorithm = Algorithm::kHierarchical;
      hier.groups = RegionGroups(net, order);
      hier.name = absl::StrCat("hierarchical over ", hier.groups.size(), " regions");
      cands.push_back(hier);
    }
    std::vector<std::vector<int32_t>> leaves = LeafGroups(net, order);
    if (!leaves.empty()) {
      Candidate leaf;
      leaf.algorithm = Algorithm::kHierarchical;
      leaf.groups = std::move(leaves);
      leaf.name = "hierarchical with stragglers as leaves";
      cands.push_back(leaf);
    }
  }

  // Forced: keep only that algorithm's candidates; rings if it has none
  // (e.g. a tree for all-gather, a hierarchy over one region).
  std::vector<size_t> eligible;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (!config.forced || cands[i].algorithm == config.force) eligible.push_back(i);
  }
  std::string fallback;
  if (eligible.empty()) {
    fallback = absl::StrCat(" (MERIDIAN_ALGO=", AlgorithmName(config.force),
                            " has no plan for this collective and network; ring instead)");
    for (size_t i = 0; i < cands.size(); ++i) {
      if (cands[i].algorithm == Algorithm::kRing) eligible.push_back(i);
    }
  }
  for (size_t i : eligible) Predict(net, shape, elem_size, config.cost, &cands[i]);
  size_t best = eligible.front();
  for (size_t i : eligible) {
    const Candidate& c = cands[i];
    if (c.predicted_s < 0) continue;
    if (cands[best].predicted_s < 0 || c.predicted_s < cands[best].predicted_s) best = i;
  }
  // cands[0], the rank-order ring, stays unless beaten by min_gain.
  const Candidate& base = cands[0];
  if (best != 0 && eligible.front() == 0 && base.predicted_s >= 0 &&
      cands[best].predicted_s > base.predicted_s * (1 - config.min_gain)) {
    best = 0;
  }
  choice.chosen = cands[best];
  choice.chosen.name += fallback;
  return choice;
}

std::string PlanChoice::Explain() const {
  auto ms = [](double s) {
    if (s < 0) return std::string("      -");
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%10.3f ms", s * 1e3);
    return std::string(buf);
  };
  std::string out = absl::StrCat("chose ", chosen.name, ": predicted",
                                 ms(chosen.predicted_s), ", waits most on ",
                                 chosen.busiest.empty() ? "-" : chosen.busiest, "\n");
  for (const Candidate& c : considered) {
    absl::StrAppend(&out, "  ", ms(c.predicted_s), "  ", c.name);
    if (!c.order.empty()) absl::StrAppend(&out, "  order ", absl::StrJoin(c.order, " "));
    if (!c.groups.empty()) absl::StrAppend(&out, "  groups ", GroupsText(c.groups));
    if (!c.parents.empty()) absl::StrAppend(&out, "  parents ", absl::StrJoin(c.parents, " "));
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace meridian::planner
