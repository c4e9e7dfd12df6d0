// The region-aware tree: parent[] validation, the region tree's shape (each
// region boundary crossed at most once on any path to the root), and
// all-reduce over arbitrary trees (region trees, chains, stars, random
// trees) checked symbolically; in the simulator it must not deadlock, and
// across two regions it must beat a ring clearly on a tiny message.
#include "planner/region_tree.h"

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "planner/cost_model.h"
#include "planner/plan.h"
#include "planner/plan_check.h"
#include "planner/simulator.h"
#include "planner/topology_gen.h"

namespace meridian::planner {
namespace {

using Groups = std::vector<std::vector<int32_t>>;

// Fisher-Yates with a fixed generator: the same permutation everywhere.
std::vector<int32_t> Shuffled(int n, uint64_t seed) {
  std::vector<int32_t> ranks(n);
  std::iota(ranks.begin(), ranks.end(), 0);
  std::mt19937_64 rng(seed);
  for (int i = n - 1; i > 0; --i) std::swap(ranks[i], ranks[rng() % (i + 1)]);
  return ranks;
}

// Consecutive groups of the given sizes over a shuffled numbering.
Groups GroupsOfSizes(const std::vector<int>& sizes, uint64_t seed) {
  const int n = std::accumulate(sizes.begin(), sizes.end(), 0);
  const std::vector<int32_t> ranks = Shuffled(n, seed);
  Groups groups;
  int next = 0;
  for (int size : sizes) {
    groups.emplace_back(ranks.begin() + next, ranks.begin() + next + size);
    next += size;
  }
  return groups;
}

std::vector<int32_t> Chain(int n) {
  std::vector<int32_t> parent(n);
  for (int i = 0; i < n; ++i) parent[i] = i - 1;
  return parent;
}

std::vector<int32_t> Star(int n) {
  std::vector<int32_t> parent(n, 0);
  parent[0] = -1;
  return parent;
}

// Each node hangs under a random earlier node of a shuffled numbering, so
// depth, fan-out and which rank is the root all vary.
std::vector<int32_t> RandomTree(int n, uint64_t seed) {
  const std::vector<int32_t> rank_of = Shuffled(n, seed);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<int32_t> parent(n, -1);
  for (int i = 1; i < n; ++i) parent[rank_of[i]] = rank_of[rng() % i];
  return parent;
}

PlanRequest AllReduce(int n, uint64_t count, uint64_t chunk, bool in_place, bool average) {
  PlanRequest req;
  req.collective = Collective::kAllReduce;
  req.world_size = n;
  req.count = count;
  req.chunk_elems = chunk;
  req.in_place = in_place;
  req.average = average;
  return req;
}

std::vector<Plan> PlansFor(PlanRequest req, const std::vector<int32_t>& parent) {
  std::vector<Plan> plans;
  plans.reserve(req.world_size);
  for (int r = 0; r < req.world_size; ++r) {
    req.rank = r;
    plans.push_back(BuildTreePlanFromParents(req, parent));
  }
  return plans;
}

std::string Describe(const PlanRequest& req, const std::vector<int32_t>& parent) {
  std::string s = "n=" + std::to_string(req.world_size) + " count=" + std::to_string(req.count) +
                  " chunk=" + std::to_string(req.chunk_elems) +
                  " in_place=" + std::to_string(req.in_place) +
                  " average=" + std::to_string(req.average) + " parent=";
  for (int32_t p : parent) s += std::to_string(p) + ",";
  return s;
}

void ExpectCorrect(const PlanRequest& req, const std::vector<int32_t>& parent) {
  ASSERT_TRUE(ValidateParents(parent).ok()) << Describe(req, parent);
  const absl::Status st = CheckPlansSymbolically(PlansFor(req, parent), req);
  EXPECT_TRUE(st.ok()) << Describe(req, parent) << ": " << st;
}

// The edges: empty, one element, odd, a few chunks, many chunks; each with
// a chunking, placement and op that rotate so every combination appears
// across a sweep without looping over all of them.
void ExpectCorrectOverCounts(const std::vector<int32_t>& parent, uint64_t salt) {
  const int n = static_cast<int>(parent.size());
  const uint64_t counts[] = {0, 1, 7, static_cast<uint64_t>(5 * n + 3), 1000};
  const uint64_t chunks[] = {1, 3, 16, 64, 1000};
  int v = static_cast<int>(salt % 5);
  for (uint64_t count : counts) {
    // Chunks of one element over a long buffer only make the check slow.
    const uint64_t chunk = count >= 1000 ? 64 + chunks[v % 5] : chunks[v % 5];
    ExpectCorrect(AllReduce(n, count, chunk, v % 2 == 1, (v + salt) % 3 == 0), parent);
    ++v;
  }
}

TEST(ValidateParentsTest, AcceptsTreesAndNamesTheProblem) {
  EXPECT_TRUE(ValidateParents({-1}).ok());
  EXPECT_TRUE(ValidateParents({-1, 0, 0, 1, 0, 4, 4, 5}).ok());
  EXPECT_TRUE(ValidateParents({2, 2, -1}).ok());
  EXPECT_TRUE(ValidateParents(Chain(40)).ok());
  struct Bad {
    std::vector<int32_t> parent;
    std::string says;
  };
  const Bad bad[] = {
      {{}, "no root"},
      {{0, 0}, "parent[0] = 0"},
      {{-1, -1}, "both roots"},
      {{1, 2, 0}, "no root"},
      {{-1, 2, 1}, "cycle"},
      {{-1, 5}, "parent[1] = 5"},
      {{-1, -2}, "parent[1] = -2"},
  };
  for (const Bad& b : bad) {
    const absl::Status st = ValidateParents(b.parent);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << b.says << ": " << st;
    EXPECT_NE(st.message().find(b.says), std::string::npos) << st;
  }
}

TEST(RegionTreeParentsTest, HeapInsideRegionsAndOverRegionRoots) {
  // Two regions of four: 0 over {1, 2} and 1 over 3; 4 likewise, under 0.
  EXPECT_EQ(RegionTreeParents({{0, 1, 2, 3}, {4, 5, 6, 7}}),
            (std::vector<int32_t>{-1, 0, 0, 1, 0, 4, 4, 5}));
  // Regions 1 and 2 hang under region 0's root, region 3 under region 1's.
  EXPECT_EQ(RegionTreeParents({{5, 0}, {3}, {1, 4}, {2}}),
            (std::vector<int32_t>{5, 5, 3, 5, 1, -1}));
  EXPECT_EQ(RegionTreeParents({{0}}), (std::vector<int32_t>{-1}));
}

TEST(RegionTreeParentsTest, RejectsGroupsThatAreNotAPartition) {
  EXPECT_TRUE(RegionTreeParents({}).empty());
  EXPECT_TRUE(RegionTreeParents({{0, 1}, {}}).empty());       // empty region
  EXPECT_TRUE(RegionTreeParents({{0, 1}, {1}}).empty());      // repeated
  EXPECT_TRUE(RegionTreeParents({{0, 3}, {2}}).empty());      // 1 missing, 3 out of range
  EXPECT_TRUE(RegionTreeParents({{0, -1}, {2}}).empty());     // negative
}

// Walking from any rank to the root, the regions met form runs, and no
// region comes back once left: each boundary is crossed at most once, and
// the path within a region is at most that region's heap depth.
TEST(RegionTreeParentsTest, PathsCrossEachRegionBoundaryOnce) {
  for (int regions = 1; regions <= 6; ++regions) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
      std::vector<int> sizes;
      for (int j = 0; j < regions; ++j) sizes.push_back(1 + (j * 5 + seed * 3) % 9);
      const Groups groups = GroupsOfSizes(sizes, seed);
      const std::vector<int32_t> parent = RegionTreeParents(groups);
      ASSERT_TRUE(ValidateParents(parent).ok());
      std::vector<int> region_of(parent.size());
      for (int j = 0; j < regions; ++j) {
        for (int32_t r : groups[j]) region_of[r] = j;
      }
      for (size_t start = 0; start < parent.size(); ++start) {
        std::vector<bool> left(regions, false);
        std::vector<int> local_hops(regions, 0);
        for (int v = static_cast<int>(start); parent[v] >= 0; v = parent[v]) {
          const int from = region_of[v], to = region_of[parent[v]];
          if (from == to) {
            ++local_hops[from];
            continue;
          }
          left[from] = true;
          EXPECT_FALSE(left[to]) << "rank " << start << " re-enters region " << to;
          // Leaving a region happens at its root only.
          EXPECT_EQ(v, groups[from][0]);
        }
        for (int j = 0; j < regions; ++j) {
          int heap_depth = 0;
          while ((2 << heap_depth) <= sizes[j]) ++heap_depth;
          EXPECT_LE(local_hops[j], heap_depth) << "rank " << start << " in region " << j;
        }
      }
    }
  }
}

TEST(TreeFromParentsTest, RegionTreesOfManyGroupings) {
  uint64_t salt = 0;
  for (int regions = 1; regions <= 6; ++regions) {
    for (uint64_t seed = 0; seed < 3; ++seed) {
      std::vector<int> sizes;
      for (int j = 0; j < regions; ++j) sizes.push_back(1 + (j * 7 + seed * 4 + regions) % 9);
      const std::vector<int32_t> parent = RegionTreeParents(GroupsOfSizes(sizes, seed));
      ASSERT_FALSE(parent.empty());
      ExpectCorrectOverCounts(parent, salt++);
    }
  }
  // Two equal regions, the usual case: every combination of the options.
  const std::vector<int32_t> two = RegionTreeParents({{0, 1, 2, 3}, {4, 5, 6, 7}});
  for (uint64_t count : {0, 1, 7, 43, 1000}) {
    for (uint64_t chunk : {1, 3, 16, 64, 1000}) {
      if (count >= 1000 && chunk == 1) continue;  // slow, and nothing new
      for (bool in_place : {false, true}) {
        for (bool average : {false, true}) {
          ExpectCorrect(AllReduce(8, count, chunk, in_place, average), two);
        }
      }
    }
  }
  ExpectCorrectOverCounts(RegionTreeParents(GroupsOfSizes({9, 9, 9, 9}, 7)), 2);
}

TEST(TreeFromParentsTest, Chains) {
  for (int n : {1, 2, 3, 4, 5, 8, 13, 21, 40}) {
    ExpectCorrectOverCounts(Chain(n), static_cast<uint64_t>(n));
  }
}

// Many children share the root's eight staging slots; chunks of one element
// keep up to a thousand receive-reduces per child queued.
TEST(TreeFromParentsTest, StarsShareTheStagingSlots) {
  for (int children : {1, 2, 3, 7, 8, 9, 16, 20}) {
    const std::vector<int32_t> parent = Star(children + 1);
    ExpectCorrectOverCounts(parent, static_cast<uint64_t>(children));
    ExpectCorrect(AllReduce(children + 1, 200, 1, false, true), parent);
    ExpectCorrect(AllReduce(children + 1, 200, 1, true, false), parent);
  }
}

TEST(TreeFromParentsTest, RandomTrees) {
  for (int n = 1; n <= 40; ++n) {
    const uint64_t seed = 1000 + static_cast<uint64_t>(n);
    ExpectCorrectOverCounts(RandomTree(n, seed), seed);
  }
}

TEST(TreeFromParentsTest, OtherCollectivesFallBackToTheRing) {
  const std::vector<int32_t> parent = RegionTreeParents({{0, 1, 2}, {3, 4}});
  for (Collective coll : {Collective::kBroadcast, Collective::kReduce, Collective::kAllGather,
                          Collective::kReduceScatter}) {
    PlanRequest req = AllReduce(5, 13, 4, false, false);
    req.collective = coll;
    req.root = 3;
    const absl::Status st = CheckPlansSymbolically(PlansFor(req, parent), req);
    EXPECT_TRUE(st.ok()) << CollectiveName(coll) << ": " << st;
  }
}

// parent[] grouping ranks by the network's regions, first rank of each
// region as its root, regions in order.
std::vector<int32_t> RegionTreeOf(const LinkModel& net) {
  Groups groups(net.num_regions());
  for (int r = 0; r < net.size(); ++r) groups[net.region(r)].push_back(r);
  return RegionTreeParents(groups);
}

double SimulatedSeconds(const std::vector<Plan>& plans, const LinkModel& net) {
  const absl::StatusOr<SimResult> sim = Simulate(plans, net, CostParams(), 4);
  EXPECT_TRUE(sim.ok()) << sim.status();
  return sim.ok() ? sim->total_s : 0;
}

TEST(TreeFromParentsTest, BeatsTheRingOnTinyMessagesAcrossTwoRegions) {
  RegionSpec spec;
  spec.regions = 2;
  spec.peers_per_region = 4;
  const uint64_t count = 4096 / 4;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const Topology net = ToDense(GenerateRegions(spec, seed));
    const std::vector<int32_t> parent = RegionTreeOf(net);
    ASSERT_EQ(parent.size(), 8u);
    const PlanRequest req = AllReduce(8, count, count, false, false);
    std::vector<Plan> ring(8);
    for (int r = 0; r < 8; ++r) {
      PlanRequest rank_req = req;
      rank_req.rank = r;
      ring[r] = BuildRingPlan(rank_req);
    }
    const double tree_s = SimulatedSeconds(PlansFor(req, parent), net);
    const double ring_s = SimulatedSeconds(ring, net);
    EXPECT_LT(tree_s, 0.6 * ring_s) << "seed " << seed << ": tree " << tree_s * 1e3
                                    << " ms, ring " << ring_s * 1e3 << " ms";
    std::printf("seed %llu: region tree %.3f ms, ring %.3f ms (%.2fx)\n",
                static_cast<unsigned long long>(seed), tree_s * 1e3, ring_s * 1e3,
                tree_s / ring_s);
  }
}

// Every shape runs to completion in the simulator (its schedule follows the
// executor's rules, staging slots included), pipelined and not.
TEST(TreeFromParentsTest, SimulatesWithoutDeadlock) {
  RegionSpec spec;
  spec.regions = 3;
  spec.peers_per_region = 7;
  const Topology net = ToDense(GenerateRegions(spec, 3));
  const int n = net.size();
  const std::vector<std::vector<int32_t>> shapes = {RegionTreeOf(net), Chain(n), Star(n),
                                                     RandomTree(n, 5), RandomTree(n, 6)};
  for (const std::vector<int32_t>& parent : shapes) {
    for (uint64_t chunk : {uint64_t{1024}, uint64_t{1} << 20}) {
      const PlanRequest req = AllReduce(n, 1 << 20, chunk, true, true);
      const absl::StatusOr<SimResult> sim = Simulate(PlansFor(req, parent), net, CostParams(), 4);
      EXPECT_TRUE(sim.ok()) << Describe(req, parent) << ": " << sim.status();
    }
  }
}

}  // namespace
}  // namespace meridian::planner
