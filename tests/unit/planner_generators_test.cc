// Runs the plan generators (ring along a given order, double binary tree,
// hierarchical, multi-ring) through the in-memory interpreter
// (plan_interpreter.h): results, message pairing, freedom from deadlock
// under many interleavings (staging slots included), buffer hazards, and
// that every final value is computed once and copied everywhere else.
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "planner/hierarchical.h"
#include "planner/multi_ring.h"
#include "planner/plan.h"
#include "planner/tree.h"
#include "planner/tree_shape.h"
#include "tests/unit/plan_interpreter.h"
#include "tests/unit/plan_interpreter_collectives.h"

namespace meridian::planner {
namespace {

using interp::Op;

const std::vector<int> kWorlds = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 33, 64};

// Fisher-Yates with a fixed generator: the same order on every platform.
std::vector<int32_t> Shuffled(int n, uint64_t seed) {
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int i = n - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
  return order;
}

// Counts that hit the edges: empty, one element, odd, one short of a
// segment per rank, and enough for several chunks per segment.
std::vector<uint64_t> CountsFor(int n) {
  return {0, 1, 7, static_cast<uint64_t>(n > 1 ? n - 1 : 2), static_cast<uint64_t>(5 * n + 3)};
}

// One combination of the options that are not looped over in full.
struct Variant {
  uint64_t chunk;
  bool in_place;
  Op op;
};

Variant VariantFor(int v, uint64_t salt) {
  static const uint64_t kChunks[] = {1, 3, 16, 64};
  static const Op kOps[] = {Op::kSum, Op::kMax, Op::kAvg};
  return {kChunks[v % 4], v % 2 == 1, kOps[(v + salt) % 3]};
}

PlanRequest Request(Collective coll, int n, uint64_t count, const Variant& v, int root = 0) {
  PlanRequest req;
  req.collective = coll;
  req.world_size = n;
  req.count = count;
  req.root = root;
  req.in_place = v.in_place;
  req.chunk_elems = v.chunk;
  return req;
}

std::string Context(const PlanRequest& req, Op op, uint64_t seed) {
  std::string s = std::string(CollectiveName(req.collective)) + " n=" +
                  std::to_string(req.world_size) + " count=" + std::to_string(req.count) +
                  " chunk=" + std::to_string(req.chunk_elems) +
                  " in_place=" + std::to_string(req.in_place) + " root=" +
                  std::to_string(req.root) + " op=" + interp::OpName(op) +
                  " seed=" + std::to_string(seed) + " order=";
  for (int32_t r : req.order) s += std::to_string(r) + ",";
  return s;
}

// Runs under `seeds` interleavings (even: uniform, odd: starving).
void ExpectRuns(const PlanRequest& req, Op op, const interp::BuildFn& build, int seeds,
                uint64_t first_seed) {
  for (uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    const std::string err = interp::RunCollective(req, op, build, seed);
    ASSERT_EQ(err, "") << Context(req, op, seed);
  }
}

int SeedsFor(int n) { return n <= 8 ? 4 : n <= 16 ? 2 : 1; }

// --- Ring along an order -------------------------------------------------

TEST(RingOrderTest, EveryCollectiveAlongShuffledOrders) {
  const Collective kAll[] = {Collective::kAllReduce, Collective::kReduceScatter,
                             Collective::kAllGather, Collective::kBroadcast,
                             Collective::kReduce,    Collective::kBarrier};
  for (int n : kWorlds) {
    for (uint64_t count : CountsFor(n)) {
      for (int v = 0; v < 4; ++v) {
        const Variant var = VariantFor(v, count);
        for (Collective coll : kAll) {
          // Reduce-scatter and all-gather count per rank: a large count
          // there is n times larger a buffer.
          uint64_t c = count;
          if (coll == Collective::kBarrier) c = 0;
          const bool per_rank =
              coll == Collective::kReduceScatter || coll == Collective::kAllGather;
          if (per_rank && count > 2ull * n) c = count / n + 3;
          PlanRequest req = Request(coll, n, c, var, static_cast<int>((count + v) % n));
          req.order = Shuffled(n, n * 1000 + count * 10 + v);
          ExpectRuns(req, var.op, BuildRingPlan, n <= 16 ? 2 : 1, v);
        }
      }
    }
  }
}

TEST(RingOrderTest, BroadcastAndReduceEveryRootAlongAnOrder) {
  for (int n = 2; n <= 9; ++n) {
    for (int root = 0; root < n; ++root) {
      for (int v = 0; v < 2; ++v) {
        const Variant var = VariantFor(v + root, n);
        for (Collective coll : {Collective::kBroadcast, Collective::kReduce}) {
          PlanRequest req = Request(coll, n, 2 * n + 1, var, root);
          req.order = Shuffled(n, 77 + n + root);
          ExpectRuns(req, var.op, BuildRingPlan, 2, root);
        }
      }
    }
  }
}

TEST(RingOrderTest, NeighboursAreByPosition) {
  const int n = 7;
  const std::vector<int32_t> order = Shuffled(n, 5);
  for (int pos = 0; pos < n; ++pos) {
    PlanRequest req = Request(Collective::kAllReduce, n, 100, {4, false, Op::kSum});
    req.rank = order[pos];
    req.order = order;
    const Plan p = BuildRingPlan(req);
    EXPECT_EQ(p.sends_to.Peers(), std::vector<int>{order[(pos + 1) % n]});
    EXPECT_EQ(p.recvs_from.Peers(), std::vector<int>{order[(pos + n - 1) % n]});
  }
}

TEST(RingOrderTest, EmptyOrderIsRankOrder) {
  for (int coll = 0; coll <= 5; ++coll) {
    for (int n : {1, 2, 5, 8}) {
      for (int r = 0; r < n; ++r) {
        PlanRequest req = Request(static_cast<Collective>(coll), n, 37, {4, r % 2 == 0, Op::kAvg},
                                  n - 1);
        req.rank = r;
        req.average = true;
        const Plan by_default = BuildRingPlan(req);
        req.order.resize(n);
        std::iota(req.order.begin(), req.order.end(), 0);
        const Plan by_order = BuildRingPlan(req);
        EXPECT_EQ(by_default.DebugString(), by_order.DebugString());
        EXPECT_EQ(by_default.scratch_elems, by_order.scratch_elems);
      }
    }
  }
}

TEST(RingOrderTest, ValidateOrder) {
  EXPECT_TRUE(ValidateOrder({}, 4).ok());
  EXPECT_TRUE(ValidateOrder({2, 0, 3, 1}, 4).ok());
  EXPECT_FALSE(ValidateOrder({0, 1, 2}, 4).ok());
  EXPECT_FALSE(ValidateOrder({0, 1, 2, 4}, 4).ok());
  EXPECT_FALSE(ValidateOrder({0, 1, -1, 3}, 4).ok());
  const absl::Status dup = ValidateOrder({0, 1, 1, 3}, 4);
  EXPECT_TRUE(absl::IsInvalidArgument(dup));
  EXPECT_NE(dup.message().find("repeats rank 1"), std::string::npos) << dup.message();
}

// --- Double binary tree ----------------------------------------------------

TEST(TreeShapeTest, ParentsAndChildrenAgree) {
  for (int n = 1; n <= 300; ++n) {
    int roots = 0;
    std::vector<int> child_of(n + 1, 0);
    for (int p = 1; p <= n; ++p) {
      const TreeNode node = TreeNodeAt(p, n);
      EXPECT_EQ(node.num_children == 0, p % 2 == 1) << "leaves are the odd nodes, n=" << n;
      for (int k = 0; k < node.num_children; ++k) {
        const int c = node.children[k];
        ASSERT_TRUE(c >= 1 && c <= n) << n;
        EXPECT_EQ(child_of[c], 0) << "two parents, n=" << n;
        child_of[c] = p;
        EXPECT_LT(TreeNodeAt(c, n).height, node.height);
      }
      if (node.parent == 0) {
        ++roots;
        EXPECT_EQ(p, TreeRoot(n));
        EXPECT_EQ(1 << node.height, TreeRoot(n));
        EXPECT_LE(TreeRoot(n), n);
        EXPECT_GT(2 * TreeRoot(n), n);
      }
    }
    EXPECT_EQ(roots, 1) << n;
    for (int p = 1; p <= n; ++p) {
      EXPECT_EQ(TreeNodeAt(p, n).parent, child_of[p]) << "n=" << n << " node " << p;
    }
  }
}

TEST(TreeShapeTest, PlacementsAreComplementary) {
  for (int n = 1; n <= 300; ++n) {
    const TreePlacement a = TreePlacement::First(n), b = TreePlacement::Second(n);
    int leaf_in_both = 0;
    for (int pos = 0; pos < n; ++pos) {
      ASSERT_EQ(a.position(a.node(pos)), pos);
      ASSERT_EQ(b.position(b.node(pos)), pos);
      const bool leaf_a = TreeNodeAt(a.node(pos), n).num_children == 0;
      const bool leaf_b = TreeNodeAt(b.node(pos), n).num_children == 0;
      if (n > 1) {
        EXPECT_TRUE(leaf_a || leaf_b) << "interior in both trees: n=" << n << " pos " << pos;
      }
      leaf_in_both += leaf_a && leaf_b;
    }
    // Even n: every rank is a leaf in exactly one tree; odd: one exception.
    EXPECT_EQ(leaf_in_both, n % 2 == 0 ? 0 : 1) << n;
    for (int root = 0; root < n; ++root) {
      const TreePlacement t = TreePlacement::RootedAt(n, root);
      EXPECT_EQ(t.position(TreeRoot(n)), root);
      EXPECT_EQ(t.node(root), TreeRoot(n));
    }
  }
}

TEST(TreePlanTest, AllReduce) {
  for (int n : kWorlds) {
    for (uint64_t count : CountsFor(n)) {
      for (int v = 0; v < 4; ++v) {
        const Variant var = VariantFor(v, count + n);
        PlanRequest req = Request(Collective::kAllReduce, n, count, var);
        if (v >= 2) req.order = Shuffled(n, 31 * n + count + v);
        ExpectRuns(req, var.op, BuildTreePlan, SeedsFor(n), 10 * v);
      }
    }
  }
}

TEST(TreePlanTest, AllReduceManyChunks) {
  // Long pipelines: many chunks per half, so staging-slot windows and the
  // interleaving of the two trees' messages on shared links matter.
  for (int n : {2, 3, 4, 5, 6, 7, 8, 12, 16, 33}) {
    for (Op op : {Op::kSum, Op::kAvg}) {
      PlanRequest req = Request(Collective::kAllReduce, n, 401, {5, op == Op::kAvg, op});
      ExpectRuns(req, op, BuildTreePlan, 6, 100);
    }
  }
}

TEST(TreePlanTest, BroadcastAndReduceEveryRoot) {
  for (int n = 1; n <= 10; ++n) {
    for (int root = 0; root < n; ++root) {
      for (uint64_t count : {0ull, 1ull, static_cast<unsigned long long>(4 * n + 3)}) {
        const Variant var = VariantFor(root + static_cast<int>(count), n);
        for (Collective coll : {Collective::kBroadcast, Collective::kReduce}) {
          PlanRequest req = Request(coll, n, count, var, root);
          if (root % 2 == 1) req.order = Shuffled(n, n + root);
          ExpectRuns(req, var.op, BuildTreePlan, 2, root);
        }
      }
    }
  }
  for (int n : {16, 24, 33, 64}) {
    for (int root : {0, n / 3, n - 1}) {
      for (Collective coll : {Collective::kBroadcast, Collective::kReduce}) {
        PlanRequest req = Request(coll, n, 3 * n + 1, {4, root % 2 == 0, Op::kAvg}, root);
        req.order = Shuffled(n, root);
        ExpectRuns(req, Op::kAvg, BuildTreePlan, 1, root);
      }
    }
  }
}

TEST(TreePlanTest, OtherCollectivesAreRings) {
  for (Collective coll : {Collective::kAllGather, Collective::kReduceScatter, Collective::kBarrier}) {
    PlanRequest req = Request(coll, 5, 9, {2, false, Op::kSum});
    req.rank = 3;
    req.order = Shuffled(5, 1);
    EXPECT_EQ(BuildTreePlan(req).DebugString(), BuildRingPlan(req).DebugString());
    ExpectRuns(req, Op::kSum, BuildTreePlan, 2, 0);
  }
}

TEST(TreePlanTest, EveryRankMovesAboutTheSameVolume) {
  // Interior in one tree, leaf in the other: each rank sends and receives
  // about the whole buffer twice (a half up and down in each tree), none
  // carries the tree's fan-in on both halves.
  const uint64_t count = 4096;
  for (int n = 2; n <= 64; ++n) {
    for (int r = 0; r < n; ++r) {
      PlanRequest req = Request(Collective::kAllReduce, n, count, {64, false, Op::kSum});
      req.rank = r;
      const Plan p = BuildTreePlan(req);
      uint64_t sent = 0, received = 0;
      for (const Step& s : p.steps) {
        if (s.kind == StepKind::kSend) sent += s.count;
        if (s.kind == StepKind::kRecv || s.kind == StepKind::kRecvReduce) received += s.count;
      }
      EXPECT_LE(sent, 2 * count) << "n=" << n << " rank " << r;
      EXPECT_LE(received, 2 * count) << "n=" << n << " rank " << r;
      EXPECT_GE(sent + received, count) << "n=" << n << " rank " << r;
    }
  }
}

// --- Hierarchical ----------------------------------------------------------

using Groups = std::vector<std::vector<int32_t>>;

// Cuts the ranks (shuffled unless seed is 0) into groups of the given sizes.
Groups MakeGroups(const std::vector<int>& sizes, uint64_t seed) {
  const int n = std::accumulate(sizes.begin(), sizes.end(), 0);
  std::vector<int32_t> src(n);
  std::iota(src.begin(), src.end(), 0);
  if (seed != 0) src = Shuffled(n, seed);
  Groups groups;
  int at = 0;
  for (int size : sizes) {
    groups.emplace_back(src.begin() + at, src.begin() + at + size);
    at += size;
  }
  return groups;
}

std::vector<std::vector<int>> GroupSizesFor(int n) {
  switch (n) {
    case 1: return {{1}};
    case 2: return {{2}, {1, 1}};
    case 3: return {{3}, {1, 1, 1}, {1, 2}};
    case 6: return {{3, 3}, {2, 2, 2}, {6}, {1, 1, 1, 1, 1, 1}, {4, 2}, {1, 5}};
    case 9: return {{3, 3, 3}, {4, 2, 3}, {2, 7}};
    case 16: return {{4, 4, 4, 4}, {5, 3, 8}, {8, 8}};
    case 24: return {{8, 8, 8}, {4, 4, 4, 4, 4, 4}};
    case 33: return {{11, 11, 11}, {10, 11, 12}};
    case 64: return {{8, 8, 8, 8, 8, 8, 8, 8}, {16, 16, 16, 16}};
  }
  return {};
}

interp::BuildFn Hierarchical(const Groups& groups) {
  return [groups](const PlanRequest& req) { return BuildHierarchicalPlan(req, groups); };
}

TEST(HierarchicalPlanTest, AllReduceOverGroupings) {
  for (int n : {1, 2, 3, 6, 9, 16, 24, 33, 64}) {
    for (const std::vector<int>& sizes : GroupSizesFor(n)) {
      for (uint64_t shuffle : {0ull, 1ull}) {
        const Groups groups = MakeGroups(sizes, shuffle * (n + 3));
        for (uint64_t count : CountsFor(n)) {
          for (int v = 0; v < 4; ++v) {
            if (n >= 24 && v % 2 != static_cast<int>(shuffle)) continue;  // keep it quick
            const Variant var = VariantFor(v, count + sizes.size());
            const PlanRequest req = Request(Collective::kAllReduce, n, count, var);
            ExpectRuns(req, var.op, Hierarchical(groups), n <= 16 ? 2 : 1, v + shuffle);
          }
        }
      }
    }
  }
}

TEST(HierarchicalPlanTest, AllReduceManyChunks) {
  for (const std::vector<int>& sizes :
       std::vector<std::vector<int>>{{3, 3}, {4, 2, 3}, {1, 1, 1, 1}, {2, 5}, {6}}) {
    const Groups groups = MakeGroups(sizes, 9);
    const int n = std::accumulate(sizes.begin(), sizes.end(), 0);
    for (Op op : {Op::kSum, Op::kAvg}) {
      PlanRequest req = Request(Collective::kAllReduce, n, 301, {4, op == Op::kSum, op});
      ExpectRuns(req, op, Hierarchical(groups), 6, 50);
    }
  }
}

interp::BuildFn HierarchicalInPieces(const Groups& groups, int pieces) {
  return [groups, pieces](const PlanRequest& req) {
    HierarchicalOptions options;
    options.pieces = pieces;
    return BuildHierarchicalPlan(req, groups, options);
  };
}

// Pipelined over pieces: phases of different pieces share links and
// staging slots, so the starving schedules (odd seeds) matter most.
TEST(HierarchicalPlanTest, AllReduceInPieces) {
  const std::vector<std::vector<int>> kSizes = {{3, 3}, {2, 2, 2}, {4, 2, 3}, {1, 5},
                                                {2, 1, 3}, {6},    {1, 1, 1, 1}, {2, 7}};
  for (const std::vector<int>& sizes : kSizes) {
    const int n = std::accumulate(sizes.begin(), sizes.end(), 0);
    const Groups groups = MakeGroups(sizes, n + sizes.size());
    for (int pieces : {2, 3, 7}) {
      for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t{5}, static_cast<uint64_t>(40 * n + 3)}) {
        for (int v = 0; v < 4; ++v) {
          const Variant var = VariantFor(v + pieces, count);
          const PlanRequest req = Request(Collective::kAllReduce, n, count, var);
          ExpectRuns(req, var.op, HierarchicalInPieces(groups, pieces), 4, 10 * v + pieces);
        }
      }
    }
  }
}

TEST(HierarchicalPlanTest, AllReduceInManyPiecesOfManyChunks) {
  for (const std::vector<int>& sizes :
       std::vector<std::vector<int>>{{3, 3}, {4, 2, 3}, {8, 8}, {2, 5}}) {
    const Groups groups = MakeGroups(sizes, 5);
    const int n = std::accumulate(sizes.begin(), sizes.end(), 0);
    for (Op op : {Op::kSum, Op::kAvg}) {
      PlanRequest req = Request(Collective::kAllReduce, n, 64 * n + 13, {2, op == Op::kAvg, op});
      ExpectRuns(req, op, HierarchicalInPieces(groups, 16), n <= 9 ? 8 : 4, 70);
    }
  }
}

TEST(HierarchicalPlanTest, PieceCount) {
  const Groups two_by_three = MakeGroups({3, 3}, 0);
  // Two chunks per crossing part (3 shards x 2 groups) make a piece.
  EXPECT_EQ(HierarchicalPieces(0, 4, two_by_three), 1);
  EXPECT_EQ(HierarchicalPieces(12 * 4 - 1, 4, two_by_three), 1);
  EXPECT_EQ(HierarchicalPieces(2 * 12 * 4, 4, two_by_three), 2);
  EXPECT_EQ(HierarchicalPieces(7 * 12 * 4 + 5, 4, two_by_three), 7);
  EXPECT_EQ(HierarchicalPieces(uint64_t{16} << 20, 32768, two_by_three), 16);
  EXPECT_EQ(HierarchicalPieces(uint64_t{1} << 40, 1, two_by_three), 16);
  // The smallest group sets the shards.
  EXPECT_EQ(HierarchicalPieces(2 * 2 * 3 * 10, 10, MakeGroups({4, 2, 3}, 0)), 1);
  EXPECT_EQ(HierarchicalPieces(5 * 2 * 2 * 3 * 10, 10, MakeGroups({4, 2, 3}, 0)), 5);
  // Nothing to overlap: one ring.
  EXPECT_EQ(HierarchicalPieces(1 << 20, 1, MakeGroups({6}, 0)), 1);
  EXPECT_EQ(HierarchicalPieces(1 << 20, 1, MakeGroups({1, 1, 1}, 0)), 1);
  EXPECT_EQ(HierarchicalPieces(1 << 20, 1, MakeGroups({1, 2}, 0)), 16);
}

// More pieces never send more bytes, and a forced count beyond the chunks
// of the buffer is cut to one piece per chunk.
TEST(HierarchicalPlanTest, PiecesKeepTheTraffic) {
  const Groups groups = MakeGroups({3, 3}, 0);
  const uint64_t count = 6 * 4 * 10;  // 60 chunks
  auto plan = [&](int rank, int pieces) {
    PlanRequest req = Request(Collective::kAllReduce, 6, count, {4, false, Op::kSum});
    req.rank = rank;
    HierarchicalOptions options;
    options.pieces = pieces;
    return BuildHierarchicalPlan(req, groups, options);
  };
  auto bytes_sent = [](const Plan& p) {
    uint64_t sent = 0;
    for (const Step& s : p.steps) sent += s.kind == StepKind::kSend ? s.count : 0;
    return sent;
  };
  // Over all ranks: pieces round their shards differently, so one rank may
  // send an element more and another one less.
  auto total_sent = [&](int pieces) {
    uint64_t sent = 0;
    for (int r = 0; r < 6; ++r) sent += bytes_sent(plan(r, pieces));
    return sent;
  };
  const uint64_t one = total_sent(1);
  for (int pieces : {2, 5, 60}) EXPECT_EQ(total_sent(pieces), one) << pieces << " pieces";
  for (int r = 0; r < 6; ++r) {
    EXPECT_EQ(plan(r, 1000).DebugString(), plan(r, 60).DebugString()) << "rank " << r;
  }
}

TEST(HierarchicalPlanTest, OtherCollectivesRunAlongTheGroups) {
  const Groups groups = MakeGroups({3, 2, 2}, 4);
  for (Collective coll : {Collective::kReduceScatter, Collective::kAllGather,
                          Collective::kBroadcast, Collective::kReduce, Collective::kBarrier}) {
    PlanRequest req = Request(coll, 7, 11, {3, true, Op::kSum}, 4);
    ExpectRuns(req, Op::kSum, Hierarchical(groups), 2, 0);
    req.rank = 2;
    PlanRequest ring = req;
    for (const auto& g : groups) ring.order.insert(ring.order.end(), g.begin(), g.end());
    EXPECT_EQ(BuildHierarchicalPlan(req, groups).DebugString(), BuildRingPlan(ring).DebugString());
  }
}

TEST(HierarchicalPlanTest, OnlyShardsCrossBetweenGroups) {
  // 3 groups of 4: each member sends 1/4 of the data's reduce-scatter and
  // all-gather traffic to the next group, not all of it.
  const Groups groups = MakeGroups({4, 4, 4}, 0);
  const uint64_t count = 1200;
  for (int r = 0; r < 12; ++r) {
    PlanRequest req = Request(Collective::kAllReduce, 12, count, {50, false, Op::kSum});
    req.rank = r;
    const Plan p = BuildHierarchicalPlan(req, groups);
    uint64_t across = 0;
    for (const Step& s : p.steps) {
      if (s.kind == StepKind::kSend && s.peer / 4 != r / 4) across += s.count;
    }
    // Ring all-reduce of a 300-element shard among 3 groups: 2 * 2/3 * 300.
    EXPECT_EQ(across, 400u) << "rank " << r;
  }
}

TEST(HierarchicalPlanTest, ValidateGroups) {
  EXPECT_TRUE(ValidateGroups({{0, 2}, {1}, {3}}, 4).ok());
  EXPECT_FALSE(ValidateGroups({}, 1).ok());
  EXPECT_FALSE(ValidateGroups({{0, 1}, {}}, 2).ok());
  EXPECT_FALSE(ValidateGroups({{0, 1}, {1}}, 2).ok());
  EXPECT_FALSE(ValidateGroups({{0, 1}}, 3).ok());
  EXPECT_FALSE(ValidateGroups({{0, 5}}, 2).ok());
}

// --- Multi-ring ------------------------------------------------------------

interp::BuildFn MultiRing(const Groups& rings, const std::vector<double>& weights) {
  return [rings, weights](const PlanRequest& req) {
    return BuildMultiRingPlan(req, rings, weights);
  };
}

TEST(MultiRingPlanTest, AllReduce) {
  const std::vector<std::vector<double>> kWeights = {{1.0, 2.5}, {3.0, 1.0, 0.5}};
  for (int n : kWorlds) {
    for (const std::vector<double>& weights : kWeights) {
      Groups rings;
      for (size_t i = 0; i < weights.size(); ++i) rings.push_back(Shuffled(n, 100 * n + i));
      std::vector<uint64_t> counts = CountsFor(n);
      counts.push_back(2);
      for (uint64_t count : counts) {
        for (int v = 0; v < 2; ++v) {
          const Variant var = VariantFor(v + static_cast<int>(count), n);
          const PlanRequest req = Request(Collective::kAllReduce, n, count, var);
          ExpectRuns(req, var.op, MultiRing(rings, weights), SeedsFor(n), v);
        }
      }
    }
  }
}

TEST(MultiRingPlanTest, RingsSharingEveryLinkStillComplete) {
  // The same ring three times: every link is shared (head of line), which
  // is slow but must stay correct and deadlock-free.
  for (int n : {2, 3, 5, 8}) {
    const std::vector<int32_t> ring = Shuffled(n, 3);
    const Groups rings = {ring, ring, ring};
    for (Op op : {Op::kSum, Op::kAvg}) {
      PlanRequest req = Request(Collective::kAllReduce, n, 97, {3, op == Op::kAvg, op});
      ExpectRuns(req, op, MultiRing(rings, {1, 1, 1}), 6, 0);
    }
  }
}

TEST(MultiRingPlanTest, OtherCollectivesFollowTheFirstRing) {
  const Groups rings = {Shuffled(6, 1), Shuffled(6, 2)};
  for (Collective coll : {Collective::kReduceScatter, Collective::kAllGather,
                          Collective::kBroadcast, Collective::kReduce}) {
    PlanRequest req = Request(coll, 6, 5, {2, false, Op::kMax}, 1);
    ExpectRuns(req, Op::kMax, MultiRing(rings, {1, 2}), 2, 0);
  }
}

TEST(MultiRingPlanTest, SplitByWeights) {
  EXPECT_EQ(SplitByWeights(10, {1, 1}), (std::vector<uint64_t>{5, 5}));
  EXPECT_EQ(SplitByWeights(11, {1, 1}), (std::vector<uint64_t>{6, 5}));
  EXPECT_EQ(SplitByWeights(100, {3, 1}), (std::vector<uint64_t>{75, 25}));
  EXPECT_EQ(SplitByWeights(10, {1, 2, 2}), (std::vector<uint64_t>{2, 4, 4}));
  // Every part gets an element once there are enough...
  EXPECT_EQ(SplitByWeights(3, {100, 1, 1}), (std::vector<uint64_t>{1, 1, 1}));
  EXPECT_EQ(SplitByWeights(4, {1000, 1, 1}), (std::vector<uint64_t>{2, 1, 1}));
  // ...and not before.
  EXPECT_EQ(SplitByWeights(2, {1, 1, 5}), (std::vector<uint64_t>{0, 0, 2}));
  EXPECT_EQ(SplitByWeights(0, {1, 2}), (std::vector<uint64_t>{0, 0}));
  for (uint64_t count : {0ull, 1ull, 7ull, 1000003ull, 1ull << 60}) {
    const std::vector<uint64_t> parts = SplitByWeights(count, {0.3, 1.7, 2.9});
    EXPECT_EQ(std::accumulate(parts.begin(), parts.end(), uint64_t{0}), count);
  }
}

TEST(MultiRingPlanTest, ValidateRings) {
  const Groups two = {{0, 1, 2}, {2, 1, 0}};
  EXPECT_TRUE(ValidateRings(two, {1, 2}, 3).ok());
  EXPECT_FALSE(ValidateRings({}, {}, 3).ok());
  EXPECT_FALSE(ValidateRings(two, {1}, 3).ok());
  EXPECT_FALSE(ValidateRings(two, {1, 0}, 3).ok());
  EXPECT_FALSE(ValidateRings(two, {1, -2}, 3).ok());
  EXPECT_FALSE(ValidateRings({{0, 1, 2}, {0, 1}}, {1, 1}, 3).ok());
  EXPECT_FALSE(ValidateRings(Groups(kMaxRings + 1, {0, 1}), std::vector<double>(kMaxRings + 1, 1), 2).ok());
}

}  // namespace
}  // namespace meridian::planner
