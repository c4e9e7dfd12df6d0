// The plan simulator against closed forms on small cases (one message,
// shared trunk, incast, ring all-reduce, a straggler link), its error
// reports, and its scale: 10,000 ranks on a generated multi-region network
// and a 1024-rank flat ring.
#include "planner/simulator.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "planner/cost_model.h"
#include "planner/plan.h"
#include "planner/topology_gen.h"
#include "planner/tree.h"
#include "tests/unit/planner_test_plans.h"

namespace meridian::planner {
namespace {

// A network described by functions (topology.cc's models are another
// engineer's; the simulator only needs the LinkModel interface).
class FnNet final : public LinkModel {
 public:
  FnNet(int n, double latency_s, double bandwidth_Bps)
      : n_(n), latency_s_(latency_s), bandwidth_Bps_(bandwidth_Bps) {}
  int size() const override { return n_; }
  double latency(int i, int j) const override { return latency_s_; }
  double bandwidth(int i, int j) const override {
    return bandwidth_fn ? bandwidth_fn(i, j) : bandwidth_Bps_;
  }
  double egress(int i) const override { return egress_Bps; }
  double ingress(int i) const override { return ingress_Bps; }
  int region(int i) const override { return region_of.empty() ? 0 : region_of[i]; }
  int num_regions() const override { return region_of.empty() ? 1 : 2; }
  double trunk(int a, int b) const override { return a == b ? 0 : trunk_Bps; }

  std::function<double(int, int)> bandwidth_fn;
  double egress_Bps = 0, ingress_Bps = 0, trunk_Bps = 0;
  std::vector<int> region_of;

 private:
  int n_;
  double latency_s_, bandwidth_Bps_;
};

// Network terms only, so the closed forms are exact.
CostParams NetworkOnly(double alpha_s) {
  CostParams c;
  c.alpha_s = alpha_s;
  c.gamma_Bps = 0;
  c.mem_Bps = 0;
  c.incast_penalty = 0;
  return c;
}

using test_plans::MakeStep;

Plan MakePlan(int rank, int n, std::vector<Step> steps) {
  Plan p;
  p.collective = Collective::kTransfer;
  p.rank = rank;
  p.world_size = n;
  p.steps = std::move(steps);
  p.Finalize();
  return p;
}

// Ranks in `senders` each send `count` elements to their partner in
// `receivers`, all at once; other ranks idle.
std::vector<Plan> Transfers(int n, const std::vector<std::pair<int, int>>& pairs,
                            uint64_t count) {
  std::vector<std::vector<Step>> steps(n);
  for (auto [from, to] : pairs) {
    steps[from].push_back(MakeStep(StepKind::kSend, to, {BufferId::kInput, 0}, {}, count));
    steps[to].push_back(MakeStep(StepKind::kRecv, from, {}, {BufferId::kOutput, 0}, count));
  }
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) plans.push_back(MakePlan(r, n, steps[r]));
  return plans;
}

std::vector<Plan> RingAllReduce(int n, uint64_t count, uint64_t chunk) {
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) {
    PlanRequest req;
    req.collective = Collective::kAllReduce;
    req.rank = r;
    req.world_size = n;
    req.count = count;
    req.chunk_elems = chunk;
    plans.push_back(BuildRingPlan(req));
  }
  return plans;
}

constexpr double kMB = 1e6;

TEST(SimulatorTest, OneMessageIsAlphaPlusLatencyPlusBytesOverBandwidth) {
  FnNet net(2, 0.010, 100 * kMB);
  const CostParams cost = NetworkOnly(50e-6);
  auto res = Simulate(Transfers(2, {{0, 1}}, 1'000'000), net, cost, 4);
  ASSERT_TRUE(res.ok()) << res.status();
  const double expected = 50e-6 + 0.010 + 4e6 / (100 * kMB);
  EXPECT_NEAR(res->total_s, expected, 1e-12);
  EXPECT_NEAR(res->total_s, MessageSeconds(cost, 4e6, 0.010, 100 * kMB), 1e-12);
  EXPECT_EQ(res->messages, 1u);
  EXPECT_EQ(res->message_bytes, 4e6);
  // The sender is done when its bytes left, the receiver a latency later.
  EXPECT_NEAR(res->rank_finish_s[0], expected - 0.010, 1e-12);
  ASSERT_FALSE(res->busiest.empty());
  EXPECT_EQ(res->busiest[0].kind, ResourceKind::kPath);
  EXPECT_NEAR(res->busiest[0].busy_s, 0.04, 1e-9);
}

TEST(SimulatorTest, TwoFlowsSharingATrunkTakeTwiceAsLong) {
  FnNet net(4, 0.0, 100 * kMB);
  net.region_of = {0, 0, 1, 1};
  net.trunk_Bps = 100 * kMB;
  const CostParams cost = NetworkOnly(0);
  auto one = Simulate(Transfers(4, {{0, 2}}, 1'000'000), net, cost, 1);
  auto two = Simulate(Transfers(4, {{0, 2}, {1, 3}}, 1'000'000), net, cost, 1);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NEAR(one->total_s, 0.01, 1e-12);
  EXPECT_NEAR(two->total_s, 0.02, 1e-12);
  EXPECT_EQ(two->busiest[0].kind, ResourceKind::kTrunk);
  EXPECT_EQ(two->busiest[0].a, 0);
  EXPECT_EQ(two->busiest[0].b, 1);
  EXPECT_NEAR(two->busiest[0].busy_s, 0.02, 1e-9);
  EXPECT_EQ(two->bytes_by_kind[static_cast<int>(ResourceKind::kTrunk)], 2e6);
  // Within a region the trunk is not crossed.
  auto local = Simulate(Transfers(4, {{0, 1}, {2, 3}}, 1'000'000), net, cost, 1);
  ASSERT_TRUE(local.ok());
  EXPECT_NEAR(local->total_s, 0.01, 1e-12);
}

// Window shares (CostParams::window_shares): a flow keeps its share of a
// bottleneck among every channel of the plan that uses it, so when the
// shorter transfer ends the longer one does not speed up; without them the
// freed share goes to the flow still running.
TEST(SimulatorTest, AFlowKeepsItsShareWhenTheOtherPauses) {
  FnNet net(4, 0.0, 100 * kMB);
  net.region_of = {0, 0, 1, 1};
  net.trunk_Bps = 100 * kMB;
  std::vector<Plan> plans = Transfers(4, {{0, 2}}, 1'000'000);
  std::vector<Plan> longer = Transfers(4, {{1, 3}}, 3'000'000);
  plans[1] = longer[1];
  plans[3] = longer[3];
  CostParams cost = NetworkOnly(0);
  cost.window_shares = false;
  auto conserving = Simulate(plans, net, cost, 1);
  cost.window_shares = true;
  auto windowed = Simulate(plans, net, cost, 1);
  ASSERT_TRUE(conserving.ok() && windowed.ok());
  // 1 MB each at 50 MB/s, then the last 2 MB alone at 100 MB/s.
  EXPECT_NEAR(conserving->total_s, 0.04, 1e-12);
  // 3 MB at 50 MB/s throughout.
  EXPECT_NEAR(windowed->total_s, 0.06, 1e-12);
  // A resource only one channel uses is not capped: one transfer alone
  // takes the whole trunk either way.
  auto alone = Simulate(Transfers(4, {{0, 2}}, 1'000'000), net, cost, 1);
  ASSERT_TRUE(alone.ok());
  EXPECT_NEAR(alone->total_s, 0.01, 1e-12);
}

TEST(SimulatorTest, IncastSlowsFanIn) {
  FnNet net(5, 0.0, 100 * kMB);
  net.ingress_Bps = 100 * kMB;
  CostParams cost = NetworkOnly(0);
  const std::vector<std::pair<int, int>> fan_in = {{1, 0}, {2, 0}, {3, 0}, {4, 0}};
  auto shared = Simulate(Transfers(5, fan_in, 1'000'000), net, cost, 1);
  ASSERT_TRUE(shared.ok());
  EXPECT_NEAR(shared->total_s, 0.04, 1e-12);  // four flows share the ingress
  cost.incast_penalty = 0.1;
  auto incast = Simulate(Transfers(5, fan_in, 1'000'000), net, cost, 1);
  ASSERT_TRUE(incast.ok());
  // Goodput 100 MB/s / (1 + 0.1 * 3) for all four.
  EXPECT_NEAR(incast->total_s, 0.04 * 1.3, 1e-12);
  EXPECT_EQ(incast->busiest[0].kind, ResourceKind::kIngress);
  EXPECT_EQ(incast->busiest[0].a, 0);
  // One sender alone pays no incast.
  auto alone = Simulate(Transfers(5, {{1, 0}}, 1'000'000), net, cost, 1);
  EXPECT_NEAR(alone->total_s, 0.01, 1e-12);
}

TEST(SimulatorTest, EgressAndMemoryLimitFlows) {
  FnNet net(3, 0.0, 100 * kMB);
  net.egress_Bps = 100 * kMB;
  CostParams cost = NetworkOnly(0);
  auto out = Simulate(Transfers(3, {{0, 1}, {0, 2}}, 1'000'000), net, cost, 1);
  ASSERT_TRUE(out.ok());
  EXPECT_NEAR(out->total_s, 0.02, 1e-12);
  EXPECT_EQ(out->busiest[0].kind, ResourceKind::kEgress);
  cost.mem_Bps = 50 * kMB;  // landing is slower than the wire
  auto landing = Simulate(Transfers(3, {{0, 1}}, 1'000'000), net, cost, 1);
  ASSERT_TRUE(landing.ok());
  EXPECT_NEAR(landing->total_s, 0.02, 1e-12);
  EXPECT_EQ(landing->busiest[0].kind, ResourceKind::kMemory);
}

TEST(SimulatorTest, RingAllReduceMatchesAlphaBetaFormula) {
  const double latency = 0.005, bandwidth = 1000 * kMB;
  for (int n : {2, 3, 8, 16}) {
    for (bool compute : {false, true}) {
      FnNet net(n, latency, bandwidth);
      CostParams cost = NetworkOnly(30e-6);
      if (compute) {
        cost.gamma_Bps = 4000 * kMB;
        cost.mem_Bps = 8000 * kMB;
      }
      const uint64_t count = 1'000'000 * static_cast<uint64_t>(n);
      auto res = Simulate(RingAllReduce(n, count, count), net, cost, 4);
      ASSERT_TRUE(res.ok()) << res.status();
      const double expected = RingAllReduceSeconds(cost, n, count * 4.0, latency, bandwidth);
      EXPECT_NEAR(res->total_s, expected, 1e-6 * expected) << "n=" << n << " compute=" << compute;
      EXPECT_EQ(res->messages, 2u * n * (n - 1));
    }
  }
}

TEST(SimulatorTest, StragglerLinkSlowsTheRingByItsBandwidthRatio) {
  const int n = 8;
  const double bandwidth = 1000 * kMB;
  const uint64_t count = 8'000'000;
  FnNet uniform(n, 0.0, bandwidth);
  FnNet straggler(n, 0.0, bandwidth);
  straggler.bandwidth_fn = [&](int i, int j) { return i == 3 && j == 4 ? bandwidth / 4 : bandwidth; };
  const CostParams cost = NetworkOnly(0);
  auto fast = Simulate(RingAllReduce(n, count, count), uniform, cost, 4);
  auto slow = Simulate(RingAllReduce(n, count, count), straggler, cost, 4);
  ASSERT_TRUE(fast.ok() && slow.ok());
  // Every segment crosses the slow link once per phase, back to back.
  EXPECT_NEAR(slow->total_s / fast->total_s, 4.0, 0.4);
  std::printf("straggler link at 1/4 bandwidth: ring %.4f s -> %.4f s (x%.3f)\n", fast->total_s,
              slow->total_s, slow->total_s / fast->total_s);
  EXPECT_EQ(slow->busiest[0].kind, ResourceKind::kPath);
  EXPECT_EQ(slow->busiest[0].a, 3);
  EXPECT_EQ(slow->busiest[0].b, 4);
  // Chunking pipelines the ring: the bandwidth term stays, latency hides.
  auto chunked = Simulate(RingAllReduce(n, count, count / 64), straggler, cost, 4);
  ASSERT_TRUE(chunked.ok());
  EXPECT_LE(chunked->total_s, slow->total_s * 1.01);
}

TEST(SimulatorTest, ReportsPairingErrorsAndDeadlock) {
  FnNet net(2, 0.001, 100 * kMB);
  const CostParams cost;
  auto unmatched = Simulate(Transfers(2, {{0, 1}}, 4), net, cost, 4);
  ASSERT_TRUE(unmatched.ok());
  std::vector<Plan> plans = Transfers(2, {{0, 1}}, 4);
  plans[1].steps[0].count = 3;
  plans[1].Finalize();
  auto mismatch = Simulate(plans, net, cost, 4);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(mismatch.status()));
  EXPECT_NE(mismatch.status().message().find("rank 0 step 0 sends 4 elements but rank 1 step 0 receives 3"),
            std::string::npos)
      << mismatch.status();

  plans = Transfers(2, {{0, 1}}, 4);
  plans[1].steps.push_back(MakeStep(StepKind::kRecv, 0, {}, {BufferId::kOutput, 0}, 4));
  plans[1].Finalize();
  auto missing = Simulate(plans, net, cost, 4);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("rank 1 step 1 (recv from rank 0, message 1) has no matching send"),
            std::string::npos)
      << missing.status();

  // Each rank sends only after it heard from the other.
  plans.clear();
  for (int r = 0; r < 2; ++r) {
    plans.push_back(MakePlan(r, 2, {MakeStep(StepKind::kRecv, 1 - r, {}, {BufferId::kOutput, 0}, 4),
                                    MakeStep(StepKind::kSend, 1 - r, {BufferId::kOutput, 0}, {}, 4, 0)}));
  }
  auto deadlock = Simulate(plans, net, cost, 4);
  ASSERT_FALSE(deadlock.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(deadlock.status()));
  EXPECT_EQ(deadlock.status().message(),
            "deadlock: 2 of 2 ranks cannot finish; rank 0 step 0 (recv from rank 1, message 0) "
            "is posted, the peer's send is not: rank 1 step 1 (send to rank 0, message 0) "
            "waits for its dependency rank 1 step 0 (recv from rank 0, message 0) is posted, "
            "the peer's send is not: rank 0 step 1 (send to rank 1, message 0) waits for its "
            "dependency back to rank 0 step 0 (recv from rank 1, message 0): a cycle");
}

TEST(SimulatorTest, StagingSlotsBoundReceiveReduces) {
  // Rank 0 receives-and-reduces 9 messages from 9 peers at once; the ninth
  // waits for a slot, i.e. for the first reduction to finish.
  const int n = 10;
  std::vector<std::vector<Step>> steps(n);
  for (int p = 1; p < n; ++p) {
    steps[p].push_back(MakeStep(StepKind::kSend, 0, {BufferId::kInput, 0}, {}, 1000));
    steps[0].push_back(MakeStep(StepKind::kRecvReduce, p, {BufferId::kInput, 0},
                                {BufferId::kScratch, 1000u * (p - 1)}, 1000));
  }
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) plans.push_back(MakePlan(r, n, steps[r]));
  FnNet net(n, 0.0, 1000 * kMB);
  CostParams cost = NetworkOnly(0);
  cost.gamma_Bps = 1 * kMB;  // 1 ms per 1000-byte reduction
  auto res = Simulate(plans, net, cost, 1);
  ASSERT_TRUE(res.ok()) << res.status();
  // Eight arrive after 1 us and reduce one after another (8 ms); the ninth
  // is posted when the first reduction frees its slot (1.001 ms), arrives
  // 1 us later and waits for the progress thread: 9 reductions end to end.
  EXPECT_NEAR(res->total_s, 1e-6 + 9e-3, 1e-9);
  EXPECT_EQ(res->busiest[0].kind, ResourceKind::kCompute);
}

// Scale: 10,000 ranks in 10 regions of a generated RegionModel (trunks,
// 1% stragglers, asymmetric pairs), a binomial tree built here and the
// planner's double binary tree, 4 MiB in 4 chunks.
TEST(SimulatorTest, TenThousandRanksOnGeneratedRegions) {
  const int n = 10'000;
  RegionSpec spec;
  spec.regions = 10;
  spec.peers_per_region = n / 10;
  spec.access_Bps = 1.25e9;
  spec.straggler_fraction = 0.01;
  spec.asymmetric_fraction = 1e-4;
  const RegionModel net = GenerateRegions(spec, /*seed=*/7);
  ASSERT_EQ(net.size(), n);
  for (int generator = 0; generator < 2; ++generator) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<Plan> plans;
    if (generator == 0) {
      plans = test_plans::BinomialTreePlans(n, 1 << 20, 1 << 18);
    } else {
      PlanRequest req;
      req.world_size = n;
      req.count = 1 << 20;
      req.chunk_elems = 1 << 18;
      for (int r = 0; r < n; ++r) {
        req.rank = r;
        plans.push_back(BuildTreePlan(req));
      }
    }
    size_t steps = 0;
    for (const Plan& p : plans) steps += p.steps.size();
    auto res = Simulate(plans, net, CostParams{}, 4);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_GT(res->total_s, 0);
    EXPECT_EQ(res->rank_finish_s.size(), static_cast<size_t>(n));
    if (generator == 0) {
      EXPECT_EQ(res->messages, 2u * (n - 1) * 4);
    }
    // Wall time is reported, not asserted (ctest's timeout bounds the run).
    std::printf("10,000 ranks, %s all-reduce of 4 MiB, %zu steps: %s; %.2f s wall\n",
                generator == 0 ? "binomial tree" : "double binary tree", steps,
                res->Summary().c_str(), wall);
  }
}

TEST(SimulatorTest, FlatRingOf1024Ranks) {
  const int n = 1024;
  FnNet net(n, 0.001, 1000 * kMB);
  const auto start = std::chrono::steady_clock::now();
  auto res = Simulate(RingAllReduce(n, 1 << 20, 1 << 20), net, CostParams{}, 4);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->messages, 2u * n * (n - 1));
  std::printf("1024-rank ring all-reduce (4 MiB): %s; %.2f s wall\n", res->Summary().c_str(),
              wall);
}

}  // namespace
}  // namespace meridian::planner
