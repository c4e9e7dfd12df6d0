// Ring order: ScoreRing by hand, OptimizeRingOrder against a brute force
// over all (N-1)! rings, the reference scenarios (shuffled three-continents
// crosses each trunk once per direction, the straggler), determinism, and
// bounded time at N = 64 (dense) and N = 1024 (region model).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "planner/ring_order.h"
#include "planner/topology.h"
#include "planner/topology_gen.h"

namespace meridian::planner {
namespace {

Topology Scenario(const std::string& name) {
  absl::StatusOr<Topology> t = ScenarioTopology(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Topology{};
}

std::vector<int32_t> RankOrder(int n) {
  std::vector<int32_t> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  return order;
}

::testing::AssertionResult IsRingFromZero(const std::vector<int32_t>& order, int n) {
  std::vector<int32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != RankOrder(n)) return ::testing::AssertionFailure() << "not a permutation";
  if (n > 0 && order[0] != 0) return ::testing::AssertionFailure() << "does not start at 0";
  return ::testing::AssertionSuccess();
}

// Ring edges per directed trunk (region a -> region b, a != b).
std::map<std::pair<int, int>, int> TrunkCrossings(const LinkModel& net,
                                                  const std::vector<int32_t>& order) {
  std::map<std::pair<int, int>, int> crossings;
  for (size_t k = 0; k < order.size(); ++k) {
    const int a = net.region(order[k]), b = net.region(order[(k + 1) % order.size()]);
    if (a != b) ++crossings[{a, b}];
  }
  return crossings;
}

// ---------------------------------------------------------------- ScoreRing

TEST(ScoreRing, UniformRing) {
  Topology t = Topology::Uniform(4, 1e-3, 1e8);
  RingScore s = ScoreRing(t, {0, 1, 2, 3});
  EXPECT_EQ(s.bottleneck_Bps, 1e8);
  EXPECT_DOUBLE_EQ(s.latency_sum_s, 4e-3);
  EXPECT_EQ(s.bottleneck_from, 0);
  EXPECT_EQ(s.bottleneck_to, 1);
  EXPECT_EQ(s.bottleneck_limit, "pair bandwidth");
  EXPECT_EQ(s.Explain(), "bottleneck 100 MB/s on 0 -> 1 (pair bandwidth); latency sum 4 ms");
}

TEST(ScoreRing, TrunkSharedByTheEdgesCrossingIt) {
  Topology t = Scenario("three-continents");
  // Each trunk once: eu-central -> us-west -> ap-northeast -> eu-central.
  RingScore once = ScoreRing(t, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(once.bottleneck_Bps, 25e6);
  EXPECT_EQ(once.bottleneck_from, 1);
  EXPECT_EQ(once.bottleneck_to, 2);
  EXPECT_EQ(once.bottleneck_limit, "trunk 0->1 shared by 1 ring edge");
  EXPECT_DOUBLE_EQ(once.latency_sum_s, 3 * 0.25e-3 + 75e-3 + 50e-3 + 112.5e-3);
  // 0 -> 2 and 1 -> 3 both cross eu-central -> us-west.
  RingScore twice = ScoreRing(t, {0, 2, 1, 3, 4, 5});
  EXPECT_EQ(twice.bottleneck_Bps, 12.5e6);
  EXPECT_EQ(twice.bottleneck_from, 0);
  EXPECT_EQ(twice.bottleneck_to, 2);
  EXPECT_EQ(twice.bottleneck_limit, "trunk 0->1 shared by 2 ring edges");
  EXPECT_DOUBLE_EQ(twice.latency_sum_s, 75e-3 * 3 + 50e-3 + 0.25e-3 + 112.5e-3);
}

TEST(ScoreRing, AccessLinksAndAsymmetricPairs) {
  Topology s = Scenario("straggler");
  RingScore r = ScoreRing(s, {0, 1, 2, 3});
  EXPECT_EQ(r.bottleneck_Bps, 12.5e6);
  EXPECT_EQ(r.bottleneck_from, 2);
  EXPECT_EQ(r.bottleneck_to, 3);
  EXPECT_EQ(r.bottleneck_limit, "ingress of 3");

  // Three peers, hand-made: 0 -> 1 is slow one way only; peer 2's egress
  // limits everything it sends.
  Topology t = Topology::Uniform(3, 0, 100);
  t.bandwidth_Bps = {0, 10, 100, 100, 0, 100, 100, 100, 0};
  t.latency_s = {0, 1, 2, 3, 0, 4, 5, 6, 0};
  t.egress_Bps = {0, 0, 50};
  RingScore a = ScoreRing(t, {0, 1, 2});  // 0->1 10, 1->2 100, 2->0 50
  EXPECT_EQ(a.bottleneck_Bps, 10);
  EXPECT_EQ(a.bottleneck_from, 0);
  EXPECT_EQ(a.latency_sum_s, 1 + 4 + 5);
  RingScore b = ScoreRing(t, {0, 2, 1});  // 0->2 100, 2->1 50 (egress), 1->0 100
  EXPECT_EQ(b.bottleneck_Bps, 50);
  EXPECT_EQ(b.bottleneck_from, 2);
  EXPECT_EQ(b.bottleneck_limit, "egress of 2");
  EXPECT_EQ(b.latency_sum_s, 2 + 6 + 3);
}

TEST(ScoreRing, DegenerateRings) {
  Topology one = Topology::Uniform(1, 0, 1);
  RingScore s = ScoreRing(one, {0});
  EXPECT_TRUE(std::isinf(s.bottleneck_Bps));
  EXPECT_EQ(s.bottleneck_from, -1);
  EXPECT_EQ(s.latency_sum_s, 0);
  Topology two = Topology::Uniform(2, 1e-3, 5);
  two.bandwidth_Bps[1] = 3;  // 0 -> 1
  EXPECT_EQ(ScoreRing(two, {0, 1}).bottleneck_Bps, 3);
  EXPECT_DOUBLE_EQ(ScoreRing(two, {0, 1}).latency_sum_s, 2e-3);
  EXPECT_EQ(OptimizeRingOrder(one), (std::vector<int32_t>{0}));
  EXPECT_EQ(OptimizeRingOrder(two), (std::vector<int32_t>{0, 1}));
}

// ---------------------------------------------------------------- exactness

// The objective of ring_order.h, by enumeration of every ring from rank 0:
// the highest bottleneck B*, then among rings >= (1 - tolerance) B* the
// lowest latency sum, the first in lexicographic order among equals.
std::vector<int32_t> BruteForce(const LinkModel& net) {
  const int n = net.size();
  std::vector<int32_t> order = RankOrder(n);
  std::vector<RingScore> scores;
  std::vector<std::vector<int32_t>> orders;
  double best_bottleneck = -1;
  do {
    scores.push_back(ScoreRing(net, order));
    orders.push_back(order);
    best_bottleneck = std::max(best_bottleneck, scores.back().bottleneck_Bps);
  } while (std::next_permutation(order.begin() + 1, order.end()));
  const double floor = (1 - kRingBottleneckTolerance) * best_bottleneck;
  size_t best = scores.size();
  for (size_t k = 0; k < scores.size(); ++k) {
    if (scores[k].bottleneck_Bps < floor) continue;
    if (best == scores.size() || scores[k].latency_sum_s < scores[best].latency_sum_s) best = k;
  }
  return orders[best];
}

// Random dense topologies in 1-3 regions with trunks, access limits and
// asymmetric links.  Bandwidths come from a few levels, two of them within
// 1% of each other, so bottleneck ties and the tolerance both matter.
Topology RandomTopology(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto unit = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  const double levels[] = {40, 100, 100.5, 200, 400};
  Topology t = Topology::Uniform(n, 0, 1);
  const int regions = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) t.region_of[i] = i < regions ? i : static_cast<int>(rng() % regions);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      const bool same = t.region_of[i] == t.region_of[j];
      t.latency_s[i * n + j] = (same ? 0.1 : 10) * (1 + unit());
      t.bandwidth_Bps[i * n + j] = levels[rng() % 5];
    }
  }
  t.egress_Bps.assign(n, 0);
  t.egress_Bps[rng() % n] = 150;
  t.trunk_Bps.assign(regions * regions, 0);
  for (int a = 0; a < regions; ++a) {
    for (int b = 0; b < regions; ++b) {
      if (a != b) t.trunk_Bps[a * regions + b] = levels[rng() % 5] * (1 + rng() % 2);
    }
  }
  EXPECT_TRUE(ValidateTopology(t).ok()) << ValidateTopology(t);
  return t;
}

TEST(OptimizeRingOrder, EqualsBruteForceUpToEightPeers) {
  for (int n = 3; n <= 8; ++n) {
    for (uint64_t seed = 1; seed <= (n <= 6 ? 12 : 4); ++seed) {
      Topology t = RandomTopology(n, seed * 1000 + n);
      const std::vector<int32_t> want = BruteForce(t);
      const std::vector<int32_t> got = OptimizeRingOrder(t);
      ASSERT_TRUE(IsRingFromZero(got, n));
      EXPECT_EQ(got, want) << "n " << n << " seed " << seed << "\n got: "
                           << ScoreRing(t, got).Explain()
                           << "\nwant: " << ScoreRing(t, want).Explain();
    }
  }
}

TEST(OptimizeRingOrder, ExactOnTheScenarios) {
  for (const std::string& name : ScenarioNames()) {
    Topology t = Scenario(name);
    EXPECT_EQ(OptimizeRingOrder(t), BruteForce(t)) << name;
  }
}

// ---------------------------------------------------------------- scenarios

TEST(OptimizeRingOrder, ShuffledThreeContinentsCrossesEachTrunkOnce) {
  int shuffles_that_cross_twice = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<int32_t> perm;
    Topology t = ShuffleRanks(Scenario("three-continents"), seed, &perm);
    const RingScore rank_order = ScoreRing(t, RankOrder(6));
    const std::vector<int32_t> best = OptimizeRingOrder(t);
    ASSERT_TRUE(IsRingFromZero(best, 6));
    const RingScore score = ScoreRing(t, best);
    EXPECT_EQ(score.bottleneck_Bps, 25e6) << score.Explain();
    const auto crossings = TrunkCrossings(t, best);
    EXPECT_EQ(crossings.size(), 3u);
    for (const auto& [trunk, count] : crossings) EXPECT_EQ(count, 1);
    // One-way 75 + 50 + 112.5 ms across the trunks, 3 x 0.25 ms inside.
    EXPECT_DOUBLE_EQ(score.latency_sum_s, 237.5e-3 + 0.75e-3);
    EXPECT_EQ(RegionGroups(t, best).size(), 3u);
    if (rank_order.bottleneck_Bps == 12.5e6) {
      ++shuffles_that_cross_twice;
      EXPECT_EQ(score.bottleneck_Bps, 2 * rank_order.bottleneck_Bps);
    }
  }
  EXPECT_GE(shuffles_that_cross_twice, 5);

  // The harness's shuffled scenario: rank order crosses every trunk twice.
  Topology s = Scenario("three-continents-shuffled");
  EXPECT_EQ(ScoreRing(s, RankOrder(6)).bottleneck_Bps, 12.5e6);
  const std::vector<int32_t> best = OptimizeRingOrder(s);
  EXPECT_EQ(ScoreRing(s, best).bottleneck_Bps, 25e6);
  // The ring starts at rank 0 and ends with rank 3, both in eu-central.
  EXPECT_EQ(RegionGroups(s, best),
            (std::vector<std::vector<int32_t>>{{3, 0}, {1, 4}, {2, 5}}));
}

TEST(OptimizeRingOrder, StragglerCannotBeAvoided) {
  Topology t = Scenario("straggler");
  const std::vector<int32_t> best = OptimizeRingOrder(t);
  EXPECT_EQ(best, (std::vector<int32_t>{0, 1, 2, 3}));  // all tie: lowest ranks
  EXPECT_EQ(ScoreRing(t, best).bottleneck_Bps, 12.5e6);
}

TEST(OptimizeRingOrder, HierarchicalScenariosVisitEachRegionOnce) {
  for (const char* name : {"europe", "europe-8", "transatlantic", "transatlantic-6"}) {
    Topology t = Scenario(name);
    const std::vector<int32_t> best = OptimizeRingOrder(t);
    EXPECT_EQ(RegionGroups(t, best).size(), 2u) << name;
    EXPECT_EQ(ScoreRing(t, best).bottleneck_Bps, t.trunk(0, 1)) << name;
  }
}

// ---------------------------------------------------------------- RegionGroups

TEST(RegionGroups, GroupsInRingOrder) {
  Topology t = Topology::Uniform(6, 1e-3, 1e8);
  t.region_of = {0, 1, 1, 0, 2, 2};
  // The ring enters region 0 at peer 3 and wraps around to peer 0.
  EXPECT_EQ(RegionGroups(t, {0, 1, 2, 4, 5, 3}),
            (std::vector<std::vector<int32_t>>{{3, 0}, {1, 2}, {4, 5}}));
  EXPECT_EQ(RegionGroups(t, {0, 3, 4, 5, 2, 1}),
            (std::vector<std::vector<int32_t>>{{0, 3}, {4, 5}, {2, 1}}));
  // A region visited twice is one group, at its first visit.
  EXPECT_EQ(RegionGroups(t, {0, 1, 3, 2, 4, 5}),
            (std::vector<std::vector<int32_t>>{{0, 3}, {1, 2}, {4, 5}}));
  t.region_of.assign(6, 0);
  EXPECT_EQ(RegionGroups(t, {0, 5, 4, 3, 2, 1}),
            (std::vector<std::vector<int32_t>>{{0, 5, 4, 3, 2, 1}}));
  EXPECT_TRUE(RegionGroups(t, {}).empty());
}

// ---------------------------------------------------------------- heuristic

RegionSpec BigSpec(int regions, int per_region) {
  RegionSpec spec;
  spec.regions = regions;
  spec.peers_per_region = per_region;
  spec.extra_latency_max_s = 0.1e-3;
  spec.straggler_fraction = 0.02;
  spec.asymmetric_fraction = 0.002;
  spec.shuffle_ranks = true;
  return spec;
}

void ExpectGoodLargeRing(const LinkModel& net, const std::vector<int32_t>& best) {
  ASSERT_TRUE(IsRingFromZero(best, net.size()));
  // Every region visited once: each trunk crossed at most once per
  // direction, one crossing per region.
  const auto crossings = TrunkCrossings(net, best);
  EXPECT_EQ(static_cast<int>(crossings.size()), net.num_regions());
  for (const auto& [trunk, count] : crossings) EXPECT_EQ(count, 1);
  const RingScore score = ScoreRing(net, best);
  const RingScore rank_order = ScoreRing(net, RankOrder(net.size()));
  // Stragglers bound both rings alike; trunks crossed many times bound
  // the rank-order ring further.
  EXPECT_GE(score.bottleneck_Bps, rank_order.bottleneck_Bps);
  EXPECT_LT(score.latency_sum_s, rank_order.latency_sum_s);
  std::printf("  N=%d optimized: %s\n  N=%d rank order: %s\n", net.size(),
              score.Explain().c_str(), net.size(), rank_order.Explain().c_str());
}

TEST(OptimizeRingOrder, DenseSixtyFourPeersInBoundedTime) {
  const Topology t = ToDense(GenerateRegions(BigSpec(8, 8), 3));
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> best = OptimizeRingOrder(t);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  N=64 dense: %.3f s\n", seconds);
  EXPECT_LT(seconds, 20.0);  // completion, not speed (a shared machine)
  ExpectGoodLargeRing(t, best);
  EXPECT_EQ(OptimizeRingOrder(t), best);  // deterministic
}

TEST(OptimizeRingOrder, RegionModelOf1024PeersInBoundedTime) {
  const RegionModel m = GenerateRegions(BigSpec(16, 64), 11);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> best = OptimizeRingOrder(m);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  N=1024 region model: %.3f s\n", seconds);
  EXPECT_LT(seconds, 60.0);
  ExpectGoodLargeRing(m, best);
}

TEST(OptimizeRingOrder, DeterministicAndIndependentOfRepresentation) {
  const RegionModel m = GenerateRegions(BigSpec(4, 6), 5);
  const Topology dense = ToDense(m);
  const std::vector<int32_t> a = OptimizeRingOrder(m);
  EXPECT_EQ(OptimizeRingOrder(m), a);
  EXPECT_EQ(OptimizeRingOrder(dense), a);  // same numbers, same ring
  const Topology small = RandomTopology(9, 77);
  EXPECT_EQ(OptimizeRingOrder(small), OptimizeRingOrder(small));
}

// Slow asymmetric links inside one region: the heuristic must route around
// them (a ring that avoids every slow link exists: only a few are slow).
TEST(OptimizeRingOrder, HeuristicAvoidsSlowAsymmetricLinks) {
  RegionModel m = GenerateRegions(BigSpec(1, 40), 2);
  m.access_Bps.clear();
  m.overrides.clear();
  const double normal = m.bandwidth(0, 1);
  for (int i = 0; i < 40; ++i) m.overrides.push_back({i, (i + 1) % 40, normal / 10});
  std::sort(m.overrides.begin(), m.overrides.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.from, a.to) < std::make_pair(b.from, b.to);
  });
  const std::vector<int32_t> best = OptimizeRingOrder(m);
  ASSERT_TRUE(IsRingFromZero(best, 40));
  EXPECT_EQ(ScoreRing(m, RankOrder(40)).bottleneck_Bps, normal / 10);
  EXPECT_EQ(ScoreRing(m, best).bottleneck_Bps, normal);
}

}  // namespace
}  // namespace meridian::planner
