// Runs the ring plans of every rank against each other in memory (no
// sockets, plan_interpreter.h), checking results, message pairing and
// freedom from deadlock for every collective, world sizes 1..9, odd counts,
// in and out of place; and checks that the interpreter itself catches
// broken plans.
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "planner/plan.h"
#include "tests/unit/plan_interpreter.h"
#include "tests/unit/plan_interpreter_collectives.h"

namespace meridian::planner {
namespace {

using interp::Op;

struct Case {
  int n;
  uint64_t count;
  uint64_t chunk;
  bool in_place;
};

std::vector<Case> Cases() {
  std::vector<Case> out;
  for (int n = 1; n <= 9; ++n) {
    for (uint64_t count : {0ull, 1ull, 2ull, 7ull, 13ull, 100ull, 257ull}) {
      for (uint64_t chunk : {1ull, 3ull, 64ull}) {
        for (bool ip : {false, true}) out.push_back({n, count, chunk, ip});
      }
    }
  }
  return out;
}

PlanRequest Request(Collective coll, const Case& c, int root = 0) {
  PlanRequest req;
  req.collective = coll;
  req.world_size = c.n;
  req.count = c.count;
  req.root = root;
  req.in_place = c.in_place;
  req.chunk_elems = c.chunk;
  return req;
}

std::string Describe(const Case& c) {
  return "n=" + std::to_string(c.n) + " count=" + std::to_string(c.count) +
         " chunk=" + std::to_string(c.chunk) + " in_place=" + std::to_string(c.in_place);
}

TEST(RingPlanTest, AllReduce) {
  for (const Case& c : Cases()) {
    for (Op op : {Op::kSum, Op::kMax, Op::kAvg}) {
      EXPECT_EQ(interp::RunCollective(Request(Collective::kAllReduce, c), op, BuildRingPlan, 1), "")
          << Describe(c) << " op=" << interp::OpName(op);
    }
  }
}

TEST(RingPlanTest, ReduceScatter) {
  for (const Case& c : Cases()) {
    for (Op op : {Op::kSum, Op::kAvg}) {
      EXPECT_EQ(interp::RunCollective(Request(Collective::kReduceScatter, c), op, BuildRingPlan, 2),
                "")
          << Describe(c) << " op=" << interp::OpName(op);
    }
  }
}

TEST(RingPlanTest, AllGather) {
  for (const Case& c : Cases()) {
    EXPECT_EQ(interp::RunCollective(Request(Collective::kAllGather, c), Op::kSum, BuildRingPlan, 3),
              "")
        << Describe(c);
  }
}

TEST(RingPlanTest, BroadcastAndReduceEveryRoot) {
  for (const Case& c : Cases()) {
    for (int root = 0; root < c.n; ++root) {
      EXPECT_EQ(interp::RunCollective(Request(Collective::kBroadcast, c, root), Op::kSum,
                                      BuildRingPlan, 4),
                "")
          << "broadcast " << Describe(c) << " root " << root;
      EXPECT_EQ(interp::RunCollective(Request(Collective::kReduce, c, root), Op::kSum,
                                      BuildRingPlan, 5),
                "")
          << "reduce " << Describe(c) << " root " << root;
    }
  }
}

TEST(RingPlanTest, Barrier) {
  for (int n = 1; n <= 6; ++n) {
    EXPECT_EQ(interp::RunCollective(Request(Collective::kBarrier, {n, 0, 1, false}), Op::kSum,
                                    BuildRingPlan, 6),
              "");
  }
}

TEST(RingPlanTest, EverySegmentSendsAtLeastOneMessage) {
  // Zero-count operations still exchange (empty) messages, so peers check
  // each other's descriptors and a barrier synchronises.
  for (int n = 2; n <= 5; ++n) {
    PlanRequest req;
    req.world_size = n;
    req.chunk_elems = 16;
    Plan p = BuildRingPlan(req);
    EXPECT_EQ(p.sends_to[1].size(), static_cast<size_t>(2 * (n - 1)));
  }
}

// --- The interpreter catches broken plans -------------------------------

Plan Empty(int rank, int n) {
  Plan p;
  p.rank = rank;
  p.world_size = n;
  return p;
}

Step MakeStep(StepKind kind, int peer, uint64_t count, int32_t dep = -1) {
  Step s;
  s.kind = kind;
  s.peer = peer;
  s.count = count;
  s.deps[0] = dep;
  return s;
}

std::vector<interp::RankSetup> Setups(std::vector<Plan> plans, uint64_t elems) {
  std::vector<interp::RankSetup> out(plans.size());
  for (size_t r = 0; r < plans.size(); ++r) {
    plans[r].scratch_elems = elems;
    plans[r].Finalize();
    out[r].plan = plans[r];
    out[r].input.assign(elems, 1);
    out[r].output_elems = elems;
  }
  return out;
}

TEST(PlanInterpreterTest, ReportsDeadlock) {
  // Each rank receives before it sends.
  std::vector<Plan> plans = {Empty(0, 2), Empty(1, 2)};
  for (int r = 0; r < 2; ++r) {
    plans[r].steps.push_back(MakeStep(StepKind::kRecv, 1 - r, 1));
    plans[r].steps.push_back(MakeStep(StepKind::kSend, 1 - r, 1, 0));
  }
  interp::PlanInterpreter sim(Setups(plans, 1), Op::kSum);
  EXPECT_FALSE(sim.Run(1));
  EXPECT_NE(sim.error().find("deadlock"), std::string::npos) << sim.error();
}

TEST(PlanInterpreterTest, ReportsPairingAndLengthMismatches) {
  std::vector<Plan> plans = {Empty(0, 2), Empty(1, 2)};
  plans[0].steps.push_back(MakeStep(StepKind::kSend, 1, 2));
  plans[1].steps.push_back(MakeStep(StepKind::kRecv, 0, 1));
  interp::PlanInterpreter lengths(Setups(plans, 2), Op::kSum);
  EXPECT_FALSE(lengths.Run(1));
  EXPECT_NE(lengths.error().find("expects 1"), std::string::npos) << lengths.error();

  plans[0].steps.push_back(MakeStep(StepKind::kSend, 1, 1));
  plans[1].steps[0].count = 2;
  interp::PlanInterpreter extra(Setups(plans, 2), Op::kSum);
  EXPECT_FALSE(extra.Run(1));
  EXPECT_NE(extra.error().find("sends 2 messages"), std::string::npos) << extra.error();
}

TEST(PlanInterpreterTest, ReportsOverwriteOfDataInFlight) {
  // Rank 0 receives into the very elements its posted send still reads.
  std::vector<Plan> plans = {Empty(0, 2), Empty(1, 2)};
  Step send = MakeStep(StepKind::kSend, 1, 1);
  send.src = {BufferId::kOutput, 0};
  Step recv = MakeStep(StepKind::kRecv, 1, 1);
  recv.dst = {BufferId::kOutput, 0};
  plans[0].steps = {send, recv};
  plans[1].steps = {MakeStep(StepKind::kSend, 0, 1), MakeStep(StepKind::kRecv, 0, 1)};
  bool caught = false;
  for (uint64_t seed = 0; seed < 20 && !caught; ++seed) {
    interp::PlanInterpreter sim(Setups(plans, 1), Op::kSum);
    caught = !sim.Run(seed) && sim.error().find("in-flight") != std::string::npos;
  }
  EXPECT_TRUE(caught);
}

TEST(PlanInterpreterTest, StagingSlotsCanDeadlockSomeInterleavings) {
  // Rank 0 receive-reduces 8 chunks from rank 1 and one from rank 2, then
  // sends to rank 1, which sends its 8 chunks only after that.  When the 8
  // take every staging slot first, rank 2's chunk cannot be received.
  const int n = 3;
  std::vector<Plan> plans = {Empty(0, n), Empty(1, n), Empty(2, n)};
  for (int k = 0; k < kStagingSlots; ++k) {
    plans[0].steps.push_back(MakeStep(StepKind::kRecvReduce, 1, 1));
  }
  plans[0].steps.push_back(MakeStep(StepKind::kRecvReduce, 2, 1));
  plans[0].steps.push_back(
      MakeStep(StepKind::kSend, 1, 1, static_cast<int32_t>(plans[0].steps.size() - 1)));
  plans[1].steps.push_back(MakeStep(StepKind::kRecv, 0, 1));
  for (int k = 0; k < kStagingSlots; ++k) {
    plans[1].steps.push_back(MakeStep(StepKind::kSend, 0, 1, 0));
  }
  plans[2].steps.push_back(MakeStep(StepKind::kSend, 0, 1));
  int deadlocks = 0, completions = 0;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    interp::PlanInterpreter sim(Setups(plans, 1), Op::kSum);
    if (sim.Run(seed)) {
      ++completions;
    } else {
      EXPECT_NE(sim.error().find("deadlock"), std::string::npos) << sim.error();
      ++deadlocks;
    }
  }
  EXPECT_GT(deadlocks, 0);
  EXPECT_GT(completions, 0);
}

}  // namespace
}  // namespace meridian::planner
