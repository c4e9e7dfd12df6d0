// The plan chooser on the reference scenarios: it must pick what a network
// engineer would (reordered rings across shuffled regions, a hierarchy
// where the trunk is thin, stragglers as leaves, trees for tiny messages),
// obey MERIDIAN_ALGO / RING_ORDER, and be deterministic.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "planner/choose.h"
#include "planner/plan_check.h"
#include "planner/topology_gen.h"

namespace meridian::planner {
namespace {

Topology Scenario(const std::string& name) {
  absl::StatusOr<Topology> t = ScenarioTopology(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Topology::Uniform(2, 0, 1);
}

PlanRequest AllReduce(uint64_t bytes) {
  PlanRequest r;
  r.collective = Collective::kAllReduce;
  r.count = bytes / 4;
  r.chunk_elems = (128 << 10) / 4;
  return r;
}

// Every rank's plan of the chosen candidate, checked symbolically.
void ExpectCorrect(const LinkModel& net, const Candidate& c, PlanRequest req) {
  const int n = net.size();
  req.world_size = n;
  std::vector<Plan> plans(n);
  for (int r = 0; r < n; ++r) {
    req.rank = r;
    plans[r] = BuildCandidatePlan(c, req);
  }
  absl::Status st = CheckPlansSymbolically(plans, req);
  EXPECT_TRUE(st.ok()) << c.name << ": " << st;
}

const Candidate* Find(const PlanChoice& choice, const std::string& prefix) {
  for (const Candidate& c : choice.considered) {
    if (c.name.rfind(prefix, 0) == 0) return &c;
  }
  return nullptr;
}

// Rank r of the result is rank perm[r] of `t`.
Topology Permute(const Topology& t, const std::vector<int>& perm) {
  Topology out = t;
  const int n = t.peers;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      out.latency_s[i * n + j] = t.latency_s[perm[i] * n + perm[j]];
      out.bandwidth_Bps[i * n + j] = t.bandwidth_Bps[perm[i] * n + perm[j]];
    }
    if (!t.region_of.empty()) out.region_of[i] = t.region_of[perm[i]];
    if (!t.names.empty()) out.names[i] = t.names[perm[i]];
  }
  return out;
}

TEST(ChoosePlanTest, ShuffledContinentsGetAReorderedRing) {
  // perf/wan/scenarios/three-continents-shuffled.json: eu us ap eu us ap,
  // so the rank-order ring crosses every trunk twice in its direction.
  Topology t = Permute(Scenario("three-continents"), {0, 2, 4, 1, 3, 5});
  PlanChoice c = ChoosePlan(t, AllReduce(64 << 20), 4, PlannerConfig());
  SCOPED_TRACE(c.Explain());
  const Candidate* rank = Find(c, "ring (rank order)");
  const Candidate* topo = Find(c, "ring (topology order)");
  ASSERT_NE(rank, nullptr);
  ASSERT_NE(topo, nullptr);
  // Crossing each trunk once per direction instead of twice.
  EXPECT_LT(topo->predicted_s * 1.8, rank->predicted_s);
  EXPECT_NE(c.chosen.name, "ring (rank order)");
  EXPECT_LE(c.chosen.predicted_s, topo->predicted_s);
  ExpectCorrect(t, c.chosen, AllReduce(1 << 20));
}

TEST(ChoosePlanTest, ThinTrunkPrefersLessTrunkTraffic) {
  // A ring sends 2 (n-1)/n of the data over the 300 Mbit/s trunk each way;
  // a hierarchy or a region-aware tree sends it once.
  Topology t = Scenario("transatlantic-6");
  PlanChoice c = ChoosePlan(t, AllReduce(64 << 20), 4, PlannerConfig());
  SCOPED_TRACE(c.Explain());
  EXPECT_NE(c.chosen.algorithm, Algorithm::kRing);
  const Candidate* ring = Find(c, "ring (rank order)");
  const Candidate* hier = Find(c, "hierarchical over 2 regions");
  ASSERT_NE(ring, nullptr);
  ASSERT_NE(hier, nullptr);
  EXPECT_LT(c.chosen.predicted_s * 1.2, ring->predicted_s);
  EXPECT_LT(hier->predicted_s * 1.2, ring->predicted_s);
  ExpectCorrect(t, c.chosen, AllReduce(1 << 20));
}

TEST(ChoosePlanTest, TinyMessagesAcrossRegionsTakeARegionTree) {
  // europe-like, 8 peers: 4 KiB is all latency, and a ring pays the trunk's
  // 12.5 ms several times per direction.
  RegionSpec spec;
  spec.regions = 2;
  spec.peers_per_region = 4;
  Topology t = ToDense(GenerateRegions(spec, 1));
  PlanChoice c = ChoosePlan(t, AllReduce(4096), 4, PlannerConfig());
  SCOPED_TRACE(c.Explain());
  const Candidate* tree = Find(c, "region tree");
  ASSERT_NE(tree, nullptr);
  const Candidate* ring = Find(c, "ring (topology order)");
  if (ring == nullptr) ring = Find(c, "ring (rank order)");
  EXPECT_LT(tree->predicted_s, 0.6 * ring->predicted_s);
  EXPECT_LT(c.chosen.predicted_s, 0.6 * ring->predicted_s);
  EXPECT_NE(c.chosen.algorithm, Algorithm::kRing);
  ExpectCorrect(t, c.chosen, AllReduce(4096));
}

TEST(ChoosePlanTest, StragglerIsALeaf) {
  Topology t = Scenario("straggler");
  PlanChoice c = ChoosePlan(t, AllReduce(64 << 20), 4, PlannerConfig());
  SCOPED_TRACE(c.Explain());
  // The straggler's 12.5 MB/s link must carry no more than its own input
  // up and the result down (a ring sends it 1.5x that each way).
  const Candidate* ring = Find(c, "ring (rank order)");
  ASSERT_NE(ring, nullptr);
  EXPECT_NE(c.chosen.algorithm, Algorithm::kRing);
  EXPECT_LT(c.chosen.predicted_s * 1.4, ring->predicted_s);
  EXPECT_NE(Find(c, "hierarchical with stragglers"), nullptr);
  ExpectCorrect(t, c.chosen, AllReduce(1 << 20));
}

TEST(ChoosePlanTest, ForcedAlgorithmAndRankOrder) {
  Topology t = Permute(Scenario("three-continents"), {0, 2, 4, 1, 3, 5});
  PlannerConfig cfg;
  cfg.forced = true;
  cfg.force = Algorithm::kTree;
  EXPECT_EQ(ChoosePlan(t, AllReduce(64 << 20), 4, cfg).chosen.algorithm, Algorithm::kTree);
  cfg.force = Algorithm::kRing;
  cfg.reorder_ring = false;
  PlanChoice c = ChoosePlan(t, AllReduce(64 << 20), 4, cfg);
  EXPECT_EQ(c.chosen.name, "ring (rank order)");
  EXPECT_TRUE(c.chosen.order.empty());
  // A hierarchy cannot run an all-gather: rings instead, and it says so.
  cfg.force = Algorithm::kHierarchical;
  PlanRequest ag = AllReduce(1 << 20);
  ag.collective = Collective::kAllGather;
  c = ChoosePlan(t, ag, 4, cfg);
  EXPECT_EQ(c.chosen.algorithm, Algorithm::kRing);
  EXPECT_NE(c.chosen.name.find("MERIDIAN_ALGO=hier"), std::string::npos) << c.chosen.name;
}

TEST(ChoosePlanTest, Deterministic) {
  std::vector<int32_t> perm;
  Topology t = ShuffleRanks(Scenario("three-continents"), 3, &perm);
  for (uint64_t bytes : {uint64_t{4096}, uint64_t{1} << 20, uint64_t{64} << 20}) {
    PlanChoice a = ChoosePlan(t, AllReduce(bytes), 4, PlannerConfig());
    PlanChoice b = ChoosePlan(t, AllReduce(bytes), 4, PlannerConfig());
    EXPECT_EQ(a.Explain(), b.Explain());
  }
}

}  // namespace
}  // namespace meridian::planner
