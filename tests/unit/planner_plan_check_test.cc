// The symbolic plan checker: it accepts the ring plans of every collective
// for every world size up to 64 (and all-reduce up to 1024) and a tree
// plan built independently, and rejects hand-broken plans with a message
// that names what broke.
#include "planner/plan_check.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "planner/plan.h"
#include "planner/rank_set.h"
#include "tests/unit/planner_test_plans.h"

namespace meridian::planner {
namespace {

// The error names what broke: `part` appears in the message.
void ExpectMentions(const absl::Status& s, const std::string& part) {
  EXPECT_NE(std::string(s.message()).find(part), std::string::npos)
      << "\"" << part << "\" not in: " << s.message();
}

// Plans every rank as the runtime requests them: a reduce's non-roots run
// in place on their send buffer.
std::vector<Plan> RingPlans(const PlanRequest& base) {
  std::vector<Plan> plans;
  plans.reserve(base.world_size);
  for (int r = 0; r < base.world_size; ++r) {
    PlanRequest req = base;
    req.rank = r;
    if (req.collective == Collective::kReduce && r != req.root) req.in_place = true;
    plans.push_back(BuildRingPlan(req));
  }
  return plans;
}

PlanRequest Request(Collective c, int n, uint64_t count, uint64_t chunk, bool in_place,
                    int root = 0, bool average = false) {
  PlanRequest req;
  req.collective = c;
  req.world_size = n;
  req.count = count;
  req.chunk_elems = chunk;
  req.in_place = in_place;
  req.root = root;
  req.average = average;
  return req;
}

std::string Describe(const PlanRequest& r) {
  return std::string(CollectiveName(r.collective)) + " n=" + std::to_string(r.world_size) +
         " count=" + std::to_string(r.count) + " chunk=" + std::to_string(r.chunk_elems) +
         " in_place=" + std::to_string(r.in_place) + " root=" + std::to_string(r.root) +
         " avg=" + std::to_string(r.average);
}

void ExpectRingAccepted(const PlanRequest& req) {
  absl::Status s = CheckPlansSymbolically(RingPlans(req), req);
  EXPECT_TRUE(s.ok()) << Describe(req) << ": " << s;
}

// Every collective, every N in 1..64; counts, chunking, placement and the
// root rotate with N so that each N sees several shapes and each shape
// many N.
TEST(PlanCheckTest, AcceptsRingPlansForEveryCollectiveUpTo64) {
  for (int n = 1; n <= 64; ++n) {
    const uint64_t counts[] = {0, 1, static_cast<uint64_t>(2 * n + 3)};
    for (uint64_t count : counts) {
      // Element-sized chunks (the most steps) for every third N.
      const uint64_t chunk = n % 3 == 0 ? 1 : (n % 3 == 1 ? 2 : 1u << 20);
      for (bool in_place : {false, true}) {
        const bool avg = (n + in_place) % 2 == 0;
        ExpectRingAccepted(Request(Collective::kAllReduce, n, count, chunk, in_place, 0, avg));
        ExpectRingAccepted(Request(Collective::kReduceScatter, n, count % 7, chunk, in_place, 0, avg));
        ExpectRingAccepted(Request(Collective::kAllGather, n, count % 7, chunk, in_place));
        const int root = static_cast<int>((count + in_place * 5) % n);
        ExpectRingAccepted(Request(Collective::kBroadcast, n, count, chunk, in_place, root));
        ExpectRingAccepted(Request(Collective::kReduce, n, count, chunk, in_place, root, avg));
      }
    }
    if (HasFailure()) return;
  }
}

TEST(PlanCheckTest, AcceptsLargeRingAllReduce) {
  for (int n : {128, 333, 1024}) {
    ExpectRingAccepted(Request(Collective::kAllReduce, n, 2 * n + 1, 1u << 20, n % 2 == 0, 0,
                               n == 333));
  }
}

TEST(PlanCheckTest, AcceptsTreePlans) {
  for (int n = 1; n <= 64; ++n) {
    for (bool in_place : {false, true}) {
      const uint64_t count = 5 + n % 4, chunk = 1 + n % 3;
      PlanRequest req = Request(Collective::kAllReduce, n, count, chunk, in_place, 0, n % 2);
      absl::Status s = CheckPlansSymbolically(
          test_plans::BinomialTreePlans(n, count, chunk, in_place, req.average), req);
      EXPECT_TRUE(s.ok()) << Describe(req) << ": " << s;
    }
  }
  PlanRequest big = Request(Collective::kAllReduce, 1000, 64, 16, false);
  EXPECT_TRUE(CheckPlansSymbolically(test_plans::BinomialTreePlans(1000, 64, 16), big).ok());
}

TEST(PlanCheckTest, RankSetOperations) {
  const RankSet a = RankSet::Union(RankSet::Range(0, 3), RankSet::Single(7));
  EXPECT_EQ(a.ToString(), "{0-2,7}");
  EXPECT_EQ(a.count(), 4);
  EXPECT_EQ(RankSet::Union(a, RankSet::Range(3, 7)), RankSet::Range(0, 8));
  EXPECT_TRUE(RankSet::Intersection(a, RankSet::Range(3, 7)).empty());
  EXPECT_EQ(RankSet::Intersection(a, RankSet::Range(2, 9)).ToString(), "{2,7}");
  EXPECT_EQ(RankSet::Difference(RankSet::Range(0, 10), a).ToString(), "{3-6,8-9}");
  EXPECT_EQ(RankSet().ToString(), "{}");
}

// Small hand-written plans for the failure cases.
using test_plans::MakeStep;

constexpr BufRef In(uint64_t off = 0) { return {BufferId::kInput, off}; }
constexpr BufRef Out(uint64_t off = 0) { return {BufferId::kOutput, off}; }
constexpr BufRef Scratch(uint64_t off = 0) { return {BufferId::kScratch, off}; }

Plan MakePlan(int rank, int n, std::vector<Step> steps, uint64_t scratch = 0) {
  Plan p;
  p.collective = Collective::kAllReduce;
  p.rank = rank;
  p.world_size = n;
  p.scratch_elems = scratch;
  p.steps = std::move(steps);
  p.Finalize();
  return p;
}

TEST(PlanCheckTest, RejectsDoubleCountedReduce) {
  // Rank 1 adds rank 0's input twice.
  std::vector<Plan> plans = {
      MakePlan(0, 2, {MakeStep(StepKind::kSend, 1, In(), {}, 4),
                      MakeStep(StepKind::kSend, 1, In(), {}, 4),
                      MakeStep(StepKind::kRecv, 1, {}, Out(), 4)}),
      MakePlan(1, 2, {MakeStep(StepKind::kRecvReduce, 0, In(), Scratch(), 4),
                      MakeStep(StepKind::kRecvReduce, 0, Scratch(), Out(), 4, 0),
                      MakeStep(StepKind::kSend, 0, Out(), {}, 4, 1)},
               4),
  };
  absl::Status s = CheckPlansSymbolically(plans, Request(Collective::kAllReduce, 2, 4, 4, false));
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "double counts rank(s) {0}");
  ExpectMentions(s, "rank 1 step 1");
}

TEST(PlanCheckTest, RejectsMissingContribution) {
  // Rank 2 receives instead of reducing once: its input never joins that
  // segment's sum.
  PlanRequest req = Request(Collective::kAllReduce, 4, 8, 8, false);
  std::vector<Plan> plans = RingPlans(req);
  for (Step& step : plans[2].steps) {
    if (step.kind == StepKind::kRecvReduce) {
      step.kind = StepKind::kRecv;
      break;
    }
  }
  plans[2].Finalize();
  absl::Status s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "missing {2}");
}

TEST(PlanCheckTest, RejectsTwoProducersOfOneFinalValue) {
  // Both ranks swap inputs and reduce locally: right sums, computed twice
  // (results would differ in the last bit for floats).
  std::vector<Plan> plans;
  for (int r = 0; r < 2; ++r) {
    plans.push_back(MakePlan(r, 2, {MakeStep(StepKind::kSend, 1 - r, In(), {}, 4),
                                    MakeStep(StepKind::kRecvReduce, 1 - r, In(), Out(), 4)}));
  }
  absl::Status s = CheckPlansSymbolically(plans, Request(Collective::kAllReduce, 2, 4, 4, false));
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "computed more than once");
  ExpectMentions(s, "rank 1 step 1");
}

TEST(PlanCheckTest, RejectsPairingMismatch) {
  PlanRequest req = Request(Collective::kAllReduce, 3, 9, 9, false);
  std::vector<Plan> plans = RingPlans(req);
  plans[1].steps[0].count -= 1;  // rank 1's first send to rank 2
  plans[1].Finalize();
  absl::Status s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "rank 1 step 0 sends 2 elements but rank 2 step 1 receives 3");

  plans = RingPlans(req);
  plans[0].steps.push_back(MakeStep(StepKind::kSend, 1, Out(), {}, 1, 0));
  plans[0].Finalize();
  s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "has no matching receive");
}

TEST(PlanCheckTest, RejectsDeadlock) {
  // Each rank waits to hear from the other before it sends.
  std::vector<Plan> plans;
  for (int r = 0; r < 2; ++r) {
    plans.push_back(MakePlan(r, 2, {MakeStep(StepKind::kRecvReduce, 1 - r, In(), Out(), 4),
                                    MakeStep(StepKind::kSend, 1 - r, Out(), {}, 4, 0)}));
  }
  absl::Status s = CheckPlansSymbolically(plans, Request(Collective::kAllReduce, 2, 4, 4, false));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  ExpectMentions(s, "deadlock");
  ExpectMentions(s, "rank 0 step 0");
  ExpectMentions(s, "a cycle");
}

TEST(PlanCheckTest, RejectsUninitialisedRead) {
  std::vector<Plan> plans = {
      MakePlan(0, 2, {MakeStep(StepKind::kSend, 1, Scratch(), {}, 4)}, 4),
      MakePlan(1, 2, {MakeStep(StepKind::kRecv, 0, {}, Out(), 4)}),
  };
  PlanRequest req = Request(Collective::kTransfer, 2, 4, 4, false);
  for (Plan& p : plans) p.collective = Collective::kTransfer;
  absl::Status s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "rank 0 step 0 (send to rank 1, message 0) reads scratch[0,4)");
  ExpectMentions(s, "never written");
}

TEST(PlanCheckTest, RejectsBufferReuseWithoutDependency) {
  // The ring's all-gather receive waits for the reduce-scatter send that
  // read the same segment; without that dependency the receive may land
  // while the send is still reading.
  PlanRequest req = Request(Collective::kAllReduce, 3, 3, 3, false);
  std::vector<Plan> plans = RingPlans(req);
  for (Plan& p : plans) {
    for (Step& step : p.steps) {
      if (step.kind == StepKind::kRecv) step.deps[0] = -1;
    }
    p.Finalize();
  }
  absl::Status s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "missing dependency");
}

TEST(PlanCheckTest, RejectsOrderThatOnlyThisScheduleGives) {
  // Rank 0 of a binomial tree reduces its children one after the other
  // into scratch; without the dependency between two of those reductions
  // another arrival order would read a partial sum before it is complete.
  PlanRequest req = Request(Collective::kAllReduce, 8, 4, 4, false);
  std::vector<Plan> plans = test_plans::BinomialTreePlans(8, 4, 4);
  Plan& root = plans[0];
  for (Step& step : root.steps) {
    if (step.kind == StepKind::kRecvReduce && step.peer == 2) step.deps[0] = -1;
  }
  root.Finalize();
  absl::Status s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "rank 0 step 1 (recv_reduce from rank 2, message 0) reads scratch[0,4), "
                    "written by rank 0 step 0 (recv_reduce from rank 1, message 0), without "
                    "depending on it");

  // In place, rank 4 receives the final sum into the buffer its send up
  // read: without waiting for that send, the data may land first.
  req.in_place = true;
  plans = test_plans::BinomialTreePlans(8, 4, 4, /*in_place=*/true);
  for (Step& step : plans[4].steps) {
    if (step.kind == StepKind::kRecv) step.deps[0] = -1;
  }
  plans[4].Finalize();
  s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "rank 4 step");
  ExpectMentions(s, "depend");
}

TEST(PlanCheckTest, RejectsWrongFinalize) {
  PlanRequest req = Request(Collective::kAllReduce, 4, 8, 2, false, 0, /*average=*/true);
  std::vector<Plan> plans = RingPlans(req);
  for (Step& step : plans[3].steps) step.finalize = false;
  plans[3].Finalize();
  absl::Status s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "never finalized");

  plans = RingPlans(req);
  plans[1].steps[plans[1].steps.size() / 4].finalize = true;  // a partial sum
  plans[1].Finalize();
  ASSERT_EQ(plans[1].steps[plans[1].steps.size() / 4].kind, StepKind::kRecvReduce);
  s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "finalizes a partial sum");
}

TEST(PlanCheckTest, RejectsWrongBroadcastSource) {
  // In place every rank has a buffer to send from, so the plans run; the
  // outputs hold rank 1's data.
  PlanRequest built = Request(Collective::kBroadcast, 5, 10, 3, true, /*root=*/1);
  PlanRequest asked = built;
  asked.root = 0;
  absl::Status s = CheckPlansSymbolically(RingPlans(built), asked);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "holds the inputs of ranks {1}");
  ExpectMentions(s, "expected {0}");
  // Out of place a non-root has no send buffer at all.
  built.in_place = asked.in_place = false;
  s = CheckPlansSymbolically(RingPlans(built), asked);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "rank 1 step 1 (copy) uses input[0,10), past the end of input (0 elements)");
}

TEST(PlanCheckTest, RejectsWritesToTheSendBuffer) {
  // Out of place the input is the caller's; a reduce's non-root gets its
  // send buffer back unchanged.
  PlanRequest req = Request(Collective::kAllReduce, 3, 6, 6, false);
  std::vector<Plan> plans = RingPlans(req);
  for (Step& step : plans[2].steps) {
    if (step.kind == StepKind::kRecvReduce) step.dst.buf = BufferId::kInput;
  }
  plans[2].Finalize();
  absl::Status s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "the input is the caller's read-only send buffer");

  req = Request(Collective::kReduce, 3, 6, 2, false, /*root=*/0);
  plans = RingPlans(req);
  // Rank 2 is mid-chain: it keeps partial sums in scratch, not in its
  // (in place) buffer.
  for (Step& step : plans[2].steps) {
    if (step.dst.buf == BufferId::kScratch) step.dst.buf = BufferId::kOutput;
    if (step.src.buf == BufferId::kScratch) step.src.buf = BufferId::kOutput;
  }
  plans[2].Finalize();
  s = CheckPlansSymbolically(plans, req);
  ASSERT_FALSE(s.ok());
  ExpectMentions(s, "rank 2 (not the root) ends with input[0,2) changed by rank 2 step");
}

}  // namespace
}  // namespace meridian::planner
