// Every plan generator the chooser can pick, checked symbolically
// (planner/plan_check.h: each rank ends with the sum of all inputs, each
// final value produced once, no double counting, no hazards) for every N in
// 1..64 and for several N up to 1024.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "planner/hierarchical.h"
#include "planner/multi_ring.h"
#include "planner/plan_check.h"
#include "planner/region_tree.h"
#include "planner/tree.h"

namespace meridian::planner {
namespace {

using Builder = std::function<Plan(const PlanRequest&)>;

std::vector<int32_t> Shuffled(int n, uint64_t seed) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

// Consecutive runs of `order` of about `size` members each.
std::vector<std::vector<int32_t>> Groups(const std::vector<int32_t>& order, int size) {
  std::vector<std::vector<int32_t>> g;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i % size == 0) g.emplace_back();
    g.back().push_back(order[i]);
  }
  return g;
}

absl::Status Check(const PlanRequest& shape, const Builder& build) {
  std::vector<Plan> plans(shape.world_size);
  PlanRequest req = shape;
  for (int r = 0; r < shape.world_size; ++r) {
    req.rank = r;
    plans[r] = build(req);
  }
  return CheckPlansSymbolically(plans, shape);
}

struct Generator {
  std::string name;
  // Builds the plan of req.rank for a group of req.world_size.
  std::function<Builder(int n)> make;
};

std::vector<Generator> Generators() {
  return {
      {"ring (shuffled order)",
       [](int n) {
         auto order = Shuffled(n, n);
         return Builder([order](PlanRequest r) {
           r.order = order;
           return BuildRingPlan(r);
         });
       }},
      {"double binary tree (shuffled order)",
       [](int n) {
         auto order = Shuffled(n, n + 1);
         return Builder([order](PlanRequest r) {
           r.order = order;
           return BuildTreePlan(r);
         });
       }},
      {"region tree (regions of 4)",
       [](int n) {
         auto parents = RegionTreeParents(Groups(Shuffled(n, n + 2), 4));
         return Builder([parents](const PlanRequest& r) {
           return BuildTreePlanFromParents(r, parents);
         });
       }},
      {"hierarchical (groups of 3)",
       [](int n) {
         auto groups = Groups(Shuffled(n, n + 3), 3);
         return Builder([groups](const PlanRequest& r) {
           return BuildHierarchicalPlan(r, groups);
         });
       }},
      {"multi-ring (2 rings, 2:1)",
       [](int n) {
         std::vector<std::vector<int32_t>> rings = {Shuffled(n, n + 4), Shuffled(n, n + 5)};
         return Builder([rings](const PlanRequest& r) {
           return BuildMultiRingPlan(r, rings, {2.0, 1.0});
         });
       }},
  };
}

PlanRequest AllReduce(int n, uint64_t count, uint64_t chunk, bool in_place, bool avg) {
  PlanRequest r;
  r.collective = Collective::kAllReduce;
  r.world_size = n;
  r.count = count;
  r.chunk_elems = chunk;
  r.in_place = in_place;
  r.average = avg;
  return r;
}

TEST(GeneratorsSymbolicTest, EveryGeneratorEveryWorldSizeUpTo64) {
  for (const Generator& g : Generators()) {
    for (int n = 1; n <= 64; ++n) {
      const Builder build = g.make(n);
      // Counts and chunkings rotate with N so every N sees empty, tiny and
      // multi-chunk buffers.
      const uint64_t counts[] = {0, 1, static_cast<uint64_t>(3 * n + 5)};
      for (uint64_t count : counts) {
        const uint64_t chunk = n % 3 == 0 ? 1 : (n % 3 == 1 ? 4 : 1u << 20);
        const bool in_place = (n + count) % 2 == 0;
        const bool avg = n % 4 < 2;
        PlanRequest req = AllReduce(n, count, chunk, in_place, avg);
        absl::Status st = Check(req, build);
        ASSERT_TRUE(st.ok()) << g.name << ", n=" << n << ", count=" << count
                             << ", chunk=" << chunk << ", in_place=" << in_place
                             << ", avg=" << avg << ": " << st;
      }
    }
  }
}

TEST(GeneratorsSymbolicTest, LargeGroups) {
  // Trees and hierarchies up to 1024 ranks (the N = 1024 flat ring is
  // planner_plan_check_test's).
  for (int n : {128, 1024}) {
    for (const Generator& g : Generators()) {
      if (g.name.rfind("ring", 0) == 0 || g.name.rfind("multi-ring", 0) == 0) continue;
      PlanRequest req = AllReduce(n, 2 * static_cast<uint64_t>(n) + 1, 64, n == 128, n == 1024);
      absl::Status st = Check(req, g.make(n));
      EXPECT_TRUE(st.ok()) << g.name << ", n=" << n << ": " << st;
    }
  }
  PlanRequest req = AllReduce(256, 600, 1u << 20, false, true);
  for (const Generator& g : Generators()) {
    absl::Status st = Check(req, g.make(256));
    EXPECT_TRUE(st.ok()) << g.name << ", n=256: " << st;
  }
}

}  // namespace
}  // namespace meridian::planner
