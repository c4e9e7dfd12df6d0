// The incast calibration's pieces: who fans in, the plan, and the penalty.
#include "planner/fan_in_probe.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "planner/cost_model.h"
#include "planner/simulator.h"
#include "planner/topology.h"

namespace meridian::planner {
namespace {

Topology WithNics(int n, double bw) {
  Topology t = Topology::Uniform(n, 1e-4, bw);
  t.egress_Bps.assign(n, bw);
  t.ingress_Bps.assign(n, bw);
  return t;
}

TEST(FanInProbeTest, ChoosesTheFirstReceiverWithFastSenders) {
  Topology t = WithNics(6, 1e9);
  FanIn f = ChooseFanIn(t);
  ASSERT_TRUE(f.valid());
  EXPECT_EQ(f.receiver, 0);
  EXPECT_EQ(f.senders, (std::vector<int>{1, 2, 3, 4}));  // capped at 4
}

TEST(FanInProbeTest, SlowSendersAreLeftOut) {
  Topology t = WithNics(4, 1e9);
  // Into rank 0 only rank 2 is fast; into rank 1, ranks 0 and 3 are.
  t.bandwidth_Bps[1 * 4 + 0] = 1e8;
  t.bandwidth_Bps[3 * 4 + 0] = 1e8;
  t.bandwidth_Bps[2 * 4 + 1] = 1e8;
  FanIn f = ChooseFanIn(t);
  ASSERT_TRUE(f.valid());
  EXPECT_EQ(f.receiver, 1);
  EXPECT_EQ(f.senders, (std::vector<int>{0, 3}));
}

TEST(FanInProbeTest, TwoPeersHaveNoFanIn) {
  EXPECT_FALSE(ChooseFanIn(WithNics(2, 1e9)).valid());
  EXPECT_FALSE(ChooseFanIn(WithNics(1, 1e9)).valid());
}

TEST(FanInProbeTest, PenaltyFromGoodput) {
  EXPECT_DOUBLE_EQ(IncastPenaltyFromFanIn(100, 100, 3), 0.0);
  EXPECT_DOUBLE_EQ(IncastPenaltyFromFanIn(100, 50, 3), 0.5);
  EXPECT_DOUBLE_EQ(IncastPenaltyFromFanIn(100, 150, 3), 0.0);  // no loss seen
  EXPECT_DOUBLE_EQ(IncastPenaltyFromFanIn(100, 1, 2), 1.0);    // clamped
  EXPECT_EQ(IncastPenaltyFromFanIn(100, 50, 1), -1);
  EXPECT_EQ(IncastPenaltyFromFanIn(0, 50, 3), -1);
  EXPECT_EQ(IncastPenaltyFromFanIn(100, std::nan(""), 3), -1);
}

// The plan, run by the simulator with a known penalty, yields goodput from
// which the penalty is recovered: the measurement and the model agree.
TEST(FanInProbeTest, SimulatedFanInRecoversThePenalty) {
  const int n = 5;
  Topology t = WithNics(n, 1e9);
  FanIn f = ChooseFanIn(t);
  ASSERT_TRUE(f.valid());
  const int k = static_cast<int>(f.senders.size());
  const std::vector<uint64_t> bytes(k, 64u << 20);
  for (double penalty : {0.0, 0.05, 0.2}) {
    CostParams cost;
    cost.alpha_s = 0;
    cost.incast_penalty = penalty;
    std::vector<Plan> plans;
    for (int r = 0; r < n; ++r) {
      FanInSteps steps;
      plans.push_back(BuildFanInPlan(r, n, f, bytes, 8, &steps));
      EXPECT_EQ(steps.receiver, r == f.receiver);
      if (r == f.receiver) {
        EXPECT_EQ(steps.go_sends.size(), static_cast<size_t>(k));
        EXPECT_EQ(steps.bulk_recvs.size(), static_cast<size_t>(8 * k));
      }
    }
    absl::StatusOr<SimResult> sim = Simulate(plans, t, cost, 1);
    ASSERT_TRUE(sim.ok()) << sim.status();
    // The go costs one round trip before the bulk flows.
    const double span = sim->total_s - 2 * 1e-4;
    const double aggregate = k * (64.0 * (1 << 20)) / span;
    EXPECT_NEAR(IncastPenaltyFromFanIn(1e9, aggregate, k), penalty, 0.01) << penalty;
  }
}

}  // namespace
}  // namespace meridian::planner
