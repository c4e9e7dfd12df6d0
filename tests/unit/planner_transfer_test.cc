// Transfer plans: every rank's plan is built from the same copy list and run
// against the others in memory (no sockets): message pairing (the k-th send
// to P is P's k-th receive from us, same size and offsets), chunking, the
// bytes that arrive, and empty plans for ranks outside every copy.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "planner/plan.h"
#include "planner/transfer.h"

namespace meridian::planner {
namespace {

using Copies = std::vector<std::pair<int, int>>;

// Runs the plans of n ranks: each rank's input holds 1000*rank + i, output
// starts at -1.  Returns the outputs; fails the test on any pairing error.
std::vector<std::vector<int64_t>> Simulate(int n, uint64_t count, const Copies& copies,
                                           uint64_t chunk) {
  std::vector<Plan> plans;
  std::vector<std::vector<int64_t>> in(n), out(n, std::vector<int64_t>(count, -1));
  for (int r = 0; r < n; ++r) {
    plans.push_back(BuildTransferPlan(r, n, count, copies, chunk));
    const Plan& p = plans.back();
    EXPECT_EQ(p.collective, Collective::kTransfer);
    EXPECT_EQ(p.rank, r);
    EXPECT_EQ(p.world_size, n);
    EXPECT_EQ(p.scratch_elems, 0u);
    for (const Step& s : p.steps) {
      EXPECT_TRUE(s.kind == StepKind::kSend || s.kind == StepKind::kRecv);
      EXPECT_EQ(s.deps[0], -1);
      if (s.kind == StepKind::kSend) {
        EXPECT_EQ(s.src.buf, BufferId::kInput);
      } else {
        EXPECT_EQ(s.dst.buf, BufferId::kOutput);
      }
    }
    for (uint64_t i = 0; i < count; ++i) in[r].push_back(1000 * r + static_cast<int64_t>(i));
  }
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      const auto& sends = plans[a].sends_to[b];
      const auto& recvs = plans[b].recvs_from[a];
      EXPECT_EQ(sends.size(), recvs.size()) << a << "->" << b;
      for (size_t k = 0; k < std::min(sends.size(), recvs.size()); ++k) {
        const Step& s = plans[a].steps[sends[k]];
        const Step& r = plans[b].steps[recvs[k]];
        EXPECT_EQ(s.count, r.count);
        EXPECT_LE(s.count, std::max<uint64_t>(1, chunk));
        EXPECT_LE(s.src.offset + s.count, count);
        EXPECT_EQ(s.src.offset, r.dst.offset);
        for (uint64_t i = 0; i < std::min(s.count, r.count); ++i) {
          out[b][r.dst.offset + i] = in[a][s.src.offset + i];
        }
      }
    }
  }
  return out;
}

std::vector<int64_t> InputOf(int r, uint64_t count) {
  std::vector<int64_t> v;
  for (uint64_t i = 0; i < count; ++i) v.push_back(1000 * r + static_cast<int64_t>(i));
  return v;
}

TEST(TransferPlanTest, OneHolderManyFetchers) {
  for (uint64_t count : {1u, 7u, 64u, 100u}) {
    for (uint64_t chunk : {1u, 3u, 64u, 1000u}) {
      const Copies copies = {{2, 0}, {2, 1}, {2, 3}};
      auto out = Simulate(4, count, copies, chunk);
      for (int f : {0, 1, 3}) EXPECT_EQ(out[f], InputOf(2, count)) << count << "/" << chunk;
      EXPECT_EQ(out[2], std::vector<int64_t>(count, -1));
      const Plan p = BuildTransferPlan(1, 4, count, copies, chunk);
      EXPECT_EQ(p.steps.size(), (count + chunk - 1) / chunk);
    }
  }
}

TEST(TransferPlanTest, FetchersStripedOverHolders) {
  // Ranks 1 and 4 hold; 0, 2, 3, 5 fetch alternately from them.
  const Copies copies = {{1, 0}, {4, 2}, {1, 3}, {4, 5}};
  auto out = Simulate(6, 33, copies, 8);
  EXPECT_EQ(out[0], InputOf(1, 33));
  EXPECT_EQ(out[2], InputOf(4, 33));
  EXPECT_EQ(out[3], InputOf(1, 33));
  EXPECT_EQ(out[5], InputOf(4, 33));
  const Plan holder = BuildTransferPlan(1, 6, 33, copies, 8);
  EXPECT_EQ(holder.sends_to[0].size(), 5u);  // ceil(33 / 8)
  EXPECT_EQ(holder.sends_to[3].size(), 5u);
  EXPECT_TRUE(holder.recvs_from[4].empty());
}

TEST(TransferPlanTest, ZeroElementsStillOneMessage) {
  const Copies copies = {{0, 1}};
  Simulate(3, 0, copies, 16);
  const Plan sender = BuildTransferPlan(0, 3, 0, copies, 16);
  ASSERT_EQ(sender.steps.size(), 1u);
  EXPECT_EQ(sender.steps[0].count, 0u);
  const Plan receiver = BuildTransferPlan(1, 3, 0, copies, 16);
  ASSERT_EQ(receiver.recvs_from[0].size(), 1u);
}

TEST(TransferPlanTest, BystandersAndNoCopiesGetEmptyPlans) {
  EXPECT_TRUE(BuildTransferPlan(2, 3, 100, {{0, 1}}, 10).steps.empty());
  const Plan none = BuildTransferPlan(0, 2, 100, {}, 10);
  EXPECT_TRUE(none.steps.empty());
  EXPECT_EQ(none.sends_to.size(), 2u);
  EXPECT_EQ(none.recvs_from.size(), 2u);
}

TEST(TransferPlanTest, ChunkZeroMeansOneElement) {
  auto out = Simulate(2, 5, {{1, 0}}, 0);
  EXPECT_EQ(out[0], InputOf(1, 5));
  EXPECT_EQ(BuildTransferPlan(0, 2, 5, {{1, 0}}, 0).steps.size(), 5u);
}

}  // namespace
}  // namespace meridian::planner
