// Passive link estimates (planner/passive_estimate.h): which pairs the
// gathered receive rates show markedly slower than planned, and what the
// topology becomes.  No sockets: the traffic matrices are written by hand.
#include "planner/passive_estimate.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "planner/probe.h"
#include "planner/probe_samples.h"
#include "tests/unit/planner_test_topology.h"

namespace meridian::planner {
namespace {

constexpr double kMiB = 1 << 20;
constexpr double kMB = 1e6;

// n peers in the given regions (empty: one region), every pair at `bw`,
// 1 ms within a region and 40 ms across; trunks between regions at `trunk`;
// access limits as a probe sets them.
Topology Net(int n, double bw, std::vector<int> regions = {}, double trunk = 0) {
  Topology t = Topology::Uniform(n, 0.001, bw);
  if (regions.empty()) regions.assign(n, 0);
  t.region_of = regions;
  const int r = t.num_regions();
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i != j && regions[i] != regions[j]) t.latency_s[static_cast<size_t>(i) * n + j] = 0.04;
    }
  }
  if (r > 1) {
    t.trunk_Bps.assign(static_cast<size_t>(r) * r, 0);
    for (int a = 0; a < r; ++a) {
      for (int b = 0; b < r; ++b) {
        if (a != b) t.trunk_Bps[static_cast<size_t>(a) * r + b] = trunk;
      }
    }
  }
  SetAccessLimits(&t);
  return t;
}

void SetBw(Topology* t, int from, int to, double bw) {
  t->bandwidth_Bps[static_cast<size_t>(from) * t->peers + to] = bw;
}

// Traffic as the ranks gather it: row = receiver.
struct Traffic {
  explicit Traffic(int n) : n(n), m(static_cast<size_t>(n) * n) {}
  // `bytes` from -> to at `rate` bytes per second.
  Traffic& Add(int from, int to, double rate, double bytes = 64 * kMiB) {
    m[static_cast<size_t>(to) * n + from] = LinkTraffic{bytes, bytes / rate};
    return *this;
  }
  int n;
  std::vector<LinkTraffic> m;
};

// A ring 0 -> 1 -> ... -> n-1 -> 0 whose every hop ran at `rate`.
Traffic Ring(int n, double rate) {
  Traffic t(n);
  for (int i = 0; i < n; ++i) t.Add(i, (i + 1) % n, rate);
  return t;
}

using test_topology::ExpectSameTopology;

TEST(PassiveEstimateTest, RatesNearThePlanChangeNothing) {
  const Topology t = Net(4, 120 * kMB);
  Traffic traffic = Ring(4, 100 * kMB);
  traffic.Add(0, 2, 70 * kMB);  // slower, but within the factor
  PassiveUpdate u = ApplyPassiveRates(t, traffic.m, PassiveConfig{});
  EXPECT_TRUE(u.drifted.empty());
  EXPECT_TRUE(u.lowered_trunks.empty());
  EXPECT_EQ(u.sampled, 5);
  EXPECT_EQ(u.shared, 0);
  ExpectSameTopology(u.topology, t);
}

TEST(PassiveEstimateTest, OneSlowLinkIsAdoptedAndTheAccessLimitsFollow) {
  // 2 -> 3 was the fastest pair out of 2 and into 3, so it set both NICs.
  Topology t = Net(4, 120 * kMB);
  SetBw(&t, 2, 3, 200 * kMB);
  SetAccessLimits(&t);
  ASSERT_EQ(t.egress(2), 200 * kMB);
  Traffic traffic = Ring(4, 110 * kMB);
  traffic.Add(2, 3, 12 * kMB, 180 * kMB);
  PassiveUpdate u = ApplyPassiveRates(t, traffic.m, PassiveConfig{});
  ASSERT_EQ(u.drifted.size(), 1u);
  const DriftedLink& d = u.drifted[0];
  EXPECT_EQ(d.from, 2);
  EXPECT_EQ(d.to, 3);
  EXPECT_DOUBLE_EQ(d.bytes, 180 * kMB);
  EXPECT_DOUBLE_EQ(d.passive_Bps, 12 * kMB);
  EXPECT_DOUBLE_EQ(d.planned_Bps, 200 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.bandwidth(2, 3), 12 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.bandwidth(3, 2), 120 * kMB) << "the other direction is its own link";
  EXPECT_DOUBLE_EQ(u.topology.egress(2), 120 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.ingress(3), 120 * kMB);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      if (i != j && !(i == 2 && j == 3)) {
        EXPECT_EQ(u.topology.bandwidth(i, j), t.bandwidth(i, j)) << i << " -> " << j;
      }
    }
  }
  EXPECT_TRUE(ValidateTopology(u.topology).ok());
}

TEST(PassiveEstimateTest, TooLittleDataIsNoRate) {
  const Topology t = Net(4, 120 * kMB);
  Traffic traffic(4);
  traffic.Add(2, 3, 1 * kMB, 15 * kMiB);
  PassiveUpdate u = ApplyPassiveRates(t, traffic.m, PassiveConfig{});
  EXPECT_EQ(u.sampled, 0);
  EXPECT_TRUE(u.drifted.empty());
  // The threshold is the caller's to choose.
  PassiveConfig lower;
  lower.min_bytes = 8 * kMiB;
  u = ApplyPassiveRates(t, traffic.m, lower);
  EXPECT_EQ(u.sampled, 1);
  EXPECT_EQ(u.drifted.size(), 1u);
}

TEST(PassiveEstimateTest, FasterThanPlannedIsNotAdopted) {
  const Topology t = Net(3, 100 * kMB);
  Traffic traffic = Ring(3, 900 * kMB);
  PassiveUpdate u = ApplyPassiveRates(t, traffic.m, PassiveConfig{});
  EXPECT_EQ(u.sampled, 3);
  EXPECT_TRUE(u.drifted.empty());
  ExpectSameTopology(u.topology, t);
}

TEST(PassiveEstimateTest, GarbageIsIgnored) {
  const Topology t = Net(3, 100 * kMB);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  Traffic traffic(3);
  auto put = [&](int from, int to, double bytes, double seconds) {
    traffic.m[static_cast<size_t>(to) * 3 + from] = LinkTraffic{bytes, seconds};
  };
  put(0, 1, nan, 1);
  put(1, 0, 64 * kMiB, nan);
  put(0, 2, -64 * kMiB, 1);
  put(2, 0, 64 * kMiB, -1);
  put(1, 2, inf, 1);
  put(2, 1, 64 * kMiB, 0);
  put(1, 1, 64 * kMiB, 100);  // the diagonal: a rank's link to itself
  PassiveUpdate u = ApplyPassiveRates(t, traffic.m, PassiveConfig{});
  EXPECT_EQ(u.sampled, 0);
  EXPECT_TRUE(u.drifted.empty());
  ExpectSameTopology(u.topology, t);
  // A pair the topology has no positive bandwidth for is not compared.
  Topology broken = t;
  SetBw(&broken, 0, 1, nan);
  Traffic slow(3);
  slow.Add(0, 1, 1 * kMB);
  u = ApplyPassiveRates(broken, slow.m, PassiveConfig{});
  EXPECT_EQ(u.sampled, 0);
  // A matrix of the wrong size changes nothing.
  u = ApplyPassiveRates(t, Traffic(2).Add(0, 1, 1 * kMB).m, PassiveConfig{});
  EXPECT_EQ(u.sampled, 0);
  ExpectSameTopology(u.topology, t);
}

TEST(PassiveEstimateTest, TheFactorDecides) {
  const Topology t = Net(3, 100 * kMB);
  Traffic traffic(3);
  traffic.Add(0, 1, 60 * kMB);
  PassiveConfig config;
  EXPECT_TRUE(ApplyPassiveRates(t, traffic.m, config).drifted.empty());
  config.factor = 1;  // any slowdown
  EXPECT_EQ(ApplyPassiveRates(t, traffic.m, config).drifted.size(), 1u);
  config.factor = 0.5;  // never upwards: as 1
  EXPECT_EQ(ApplyPassiveRates(t, traffic.m, config).drifted.size(), 1u);
  config.factor = 0;  // MERIDIAN_REPLAN_DRIFT=0: off
  EXPECT_TRUE(ApplyPassiveRates(t, traffic.m, config).drifted.empty());
  config.factor = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(ApplyPassiveRates(t, traffic.m, config).drifted.empty());
}

TEST(PassiveEstimateTest, FlowsSharingANicAreNotDrift) {
  // A tree node sends to three children at once: each gets a third of its
  // NIC, which the plan knew.
  const Topology t = Net(4, 120 * kMB);
  Traffic fan_out(4);
  for (int child : {1, 2, 3}) fan_out.Add(0, child, 38 * kMB);
  PassiveUpdate u = ApplyPassiveRates(t, fan_out.m, PassiveConfig{});
  EXPECT_TRUE(u.drifted.empty());
  EXPECT_EQ(u.shared, 3);
  // Likewise three senders into one receiver.
  Traffic fan_in(4);
  for (int sender : {1, 2, 3}) fan_in.Add(sender, 0, 38 * kMB);
  u = ApplyPassiveRates(t, fan_in.m, PassiveConfig{});
  EXPECT_TRUE(u.drifted.empty());
  EXPECT_EQ(u.shared, 3);
  // One flow far below its part while another fills the NIC is the link.
  Traffic uneven(4);
  uneven.Add(0, 1, 5 * kMB).Add(0, 2, 110 * kMB);
  u = ApplyPassiveRates(t, uneven.m, PassiveConfig{});
  ASSERT_EQ(u.drifted.size(), 1u);
  EXPECT_EQ(u.drifted[0].from, 0);
  EXPECT_EQ(u.drifted[0].to, 1);
}

TEST(PassiveEstimateTest, FlowsSharingATrunkAreNotDriftUnlessTheTrunkIsSlow) {
  // Regions {0, 1, 2} and {3, 4, 5}, a 100 MB/s trunk each way; one flow
  // alone may fill it.
  const Topology t = Net(6, 100 * kMB, {0, 0, 0, 1, 1, 1}, 100 * kMB);
  Traffic shards(6);
  for (int i = 0; i < 3; ++i) shards.Add(i, i + 3, 33 * kMB);
  PassiveUpdate u = ApplyPassiveRates(t, shards.m, PassiveConfig{});
  EXPECT_TRUE(u.drifted.empty());
  EXPECT_EQ(u.shared, 3);

  // The same three flows at 10 MB/s: the trunk carried 30, not 100.
  Traffic congested(6);
  for (int i = 0; i < 3; ++i) congested.Add(i, i + 3, 10 * kMB);
  u = ApplyPassiveRates(t, congested.m, PassiveConfig{});
  EXPECT_EQ(u.drifted.size(), 3u);
  ASSERT_EQ(u.lowered_trunks.size(), 1u);
  EXPECT_EQ(u.lowered_trunks[0], std::make_pair(0, 1));
  EXPECT_DOUBLE_EQ(u.topology.trunk(0, 1), 30 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.trunk(1, 0), 100 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.bandwidth(0, 3), 10 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.bandwidth(0, 4), 30 * kMB) << "unsampled, across the slow trunk";
  EXPECT_DOUBLE_EQ(u.topology.bandwidth(3, 0), 100 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.bandwidth(0, 1), 100 * kMB);
  EXPECT_TRUE(ValidateTopology(u.topology).ok());

  // One slow flow alone across the trunk lowers only its own pair.
  Traffic alone(6);
  alone.Add(0, 3, 10 * kMB);
  u = ApplyPassiveRates(t, alone.m, PassiveConfig{});
  ASSERT_EQ(u.drifted.size(), 1u);
  EXPECT_TRUE(u.lowered_trunks.empty());
  EXPECT_DOUBLE_EQ(u.topology.trunk(0, 1), 100 * kMB);
  EXPECT_DOUBLE_EQ(u.topology.bandwidth(1, 4), 100 * kMB);
}

TEST(PassiveEstimateTest, EveryRankDecidesAlike) {
  // What each rank holds after the all-gather is the same matrix; the
  // decision and the topology must come out bit for bit the same.
  const Topology t = Net(6, 100 * kMB, {0, 0, 0, 1, 1, 1}, 100 * kMB);
  Traffic traffic = Ring(6, 90 * kMB);
  traffic.Add(1, 2, 7.3 * kMB, 17 * kMiB).Add(4, 0, 13.1 * kMB).Add(5, 1, 3 * kMB);
  const PassiveUpdate first = ApplyPassiveRates(t, traffic.m, PassiveConfig{});
  ASSERT_FALSE(first.drifted.empty());
  for (int rank = 0; rank < 6; ++rank) {
    const std::vector<LinkTraffic> copy = traffic.m;
    const PassiveUpdate u = ApplyPassiveRates(t, copy, PassiveConfig{});
    ExpectSameTopology(u.topology, first.topology);
    ASSERT_EQ(u.drifted.size(), first.drifted.size());
    for (size_t k = 0; k < u.drifted.size(); ++k) {
      EXPECT_EQ(u.drifted[k].from, first.drifted[k].from);
      EXPECT_EQ(u.drifted[k].to, first.drifted[k].to);
      EXPECT_EQ(u.drifted[k].passive_Bps, first.drifted[k].passive_Bps);
    }
    EXPECT_EQ(u.lowered_trunks, first.lowered_trunks);
  }
  // In (from, to) order, whatever order the pairs were found in.
  for (size_t k = 1; k < first.drifted.size(); ++k) {
    EXPECT_LT(std::make_pair(first.drifted[k - 1].from, first.drifted[k - 1].to),
              std::make_pair(first.drifted[k].from, first.drifted[k].to));
  }
}

// Four peers in one region, as probed; the samples they came from.
std::vector<PairSample> OneRegionSamples() {
  std::vector<PairSample> s;
  for (int a = 0; a < 4; ++a) {
    for (int b = a + 1; b < 4; ++b) {
      PairSample p;
      p.a = a;
      p.b = b;
      p.rtt_s = 0.001 + 0.0001 * (a + b);
      p.a_to_b_Bps = (100 + a + 10 * b) * kMB;
      p.b_to_a_Bps = (100 + b + 10 * a) * kMB;
      s.push_back(p);
    }
  }
  return s;
}

TEST(PassiveEstimateTest, AdoptedRatesWithinARegionGoBackIntoTheSamples) {
  std::vector<PairSample> samples = OneRegionSamples();
  absl::StatusOr<Topology> t = TopologyFromSamples(4, samples);
  ASSERT_TRUE(t.ok()) << t.status();
  Traffic traffic(4);
  traffic.Add(3, 1, 9 * kMB).Add(0, 2, 8 * kMB);
  PassiveUpdate u = ApplyPassiveRates(*t, traffic.m, PassiveConfig{});
  ASSERT_EQ(u.drifted.size(), 2u);
  EXPECT_EQ(AdoptIntoSamples(u, &samples), 2);
  // The next epoch, rebuilt from what the coordinator would hand out, plans
  // with what this one adopted.
  absl::StatusOr<Topology> next = TopologyFromSamples(4, samples);
  ASSERT_TRUE(next.ok()) << next.status();
  ExpectSameTopology(*next, u.topology);
}

TEST(PassiveEstimateTest, AdoptedRatesAcrossRegionsStayOutOfTheSamples) {
  const Topology t = Net(4, 100 * kMB, {0, 0, 1, 1}, 100 * kMB);
  std::vector<PairSample> samples = OneRegionSamples();
  const std::vector<PairSample> before = samples;
  Traffic traffic(4);
  traffic.Add(0, 2, 5 * kMB);
  PassiveUpdate u = ApplyPassiveRates(t, traffic.m, PassiveConfig{});
  ASSERT_EQ(u.drifted.size(), 1u);
  EXPECT_EQ(AdoptIntoSamples(u, &samples), 0);
  for (size_t k = 0; k < samples.size(); ++k) {
    EXPECT_EQ(samples[k].a_to_b_Bps, before[k].a_to_b_Bps);
    EXPECT_EQ(samples[k].b_to_a_Bps, before[k].b_to_a_Bps);
  }
}

}  // namespace
}  // namespace meridian::planner
