// Link probing's pure parts: the round-robin schedule, the per-round plans
// (they must pair up across ranks), and turning measured rows into one
// Topology (latency, bandwidth, regions, shared trunks).
#include <set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "planner/probe.h"

namespace meridian::planner {
namespace {

TEST(ProbeScheduleTest, EveryPairOnceAndNobodyTwiceInARound) {
  for (int n = 0; n <= 33; ++n) {
    std::vector<Round> rounds = RoundRobinRounds(n);
    if (n < 2) {
      EXPECT_TRUE(rounds.empty());
      continue;
    }
    // O(N) rounds: n - 1 for even n, n for odd n (one rank sits out).
    EXPECT_EQ(static_cast<int>(rounds.size()), n % 2 == 0 ? n - 1 : n) << n;
    std::set<std::pair<int, int>> seen;
    for (const Round& round : rounds) {
      std::set<int> busy;
      for (const auto& [a, b] : round) {
        EXPECT_LT(a, b);
        EXPECT_GE(a, 0);
        EXPECT_LT(b, n);
        EXPECT_TRUE(busy.insert(a).second) << "n=" << n << " rank " << a;
        EXPECT_TRUE(busy.insert(b).second) << "n=" << n << " rank " << b;
        EXPECT_TRUE(seen.insert({a, b}).second) << "n=" << n << " pair twice";
      }
      EXPECT_GE(busy.size(), static_cast<size_t>(n - 1));
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(n * (n - 1) / 2)) << n;
  }
}

// Builds every rank's plan of each round of n ranks with `build` and checks
// what every probe plan holds: a rank outside the round's pairs has no
// steps; partners name each other and exactly one of them initiates.  Then
// `check(plans, steps, rank, partner)` for each rank in a pair.
template <typename Build, typename Check>
void ForEachPairedRank(int n, Build build, Check check) {
  for (const Round& round : RoundRobinRounds(n)) {
    std::vector<Plan> plans(n);
    std::vector<ProbeSteps> steps(n);
    for (int r = 0; r < n; ++r) plans[r] = build(r, round, &steps[r]);
    for (int r = 0; r < n; ++r) {
      if (steps[r].partner < 0) {
        EXPECT_TRUE(plans[r].steps.empty());
        continue;
      }
      const int p = steps[r].partner;
      EXPECT_EQ(steps[p].partner, r);
      EXPECT_NE(steps[r].initiator, steps[p].initiator);
      check(plans, steps, r, p);
    }
  }
}

TEST(ProbePlanTest, MessagesPairUpAcrossRanks) {
  const int n = 5;
  ProbeShape shape;
  shape.pings = 3;
  shape.bulk_bytes = 1000;
  shape.bulk_chunks = 7;
  auto build = [&](int r, const Round& round, ProbeSteps* steps) {
    return BuildProbePlan(r, n, round, shape, steps);
  };
  ForEachPairedRank(n, build, [](const std::vector<Plan>& plans,
                                 const std::vector<ProbeSteps>& steps, int r, int p) {
    EXPECT_EQ(steps[r].ping_pong.size(), 6u);
    EXPECT_EQ(steps[r].bulk_recvs.size(), 7u);
    const auto& sends = plans[r].sends_to[p];
    const auto& recvs = plans[p].recvs_from[r];
    ASSERT_EQ(sends.size(), recvs.size());
    uint64_t bulk = 0;
    for (size_t k = 0; k < sends.size(); ++k) {
      EXPECT_EQ(plans[r].steps[sends[k]].count, plans[p].steps[recvs[k]].count);
      if (k >= 3) bulk += plans[r].steps[sends[k]].count;
    }
    EXPECT_EQ(bulk, 1000u);  // the whole bulk, once
    // Pongs land past the bulk area.
    for (int32_t idx : plans[r].recvs_from[p]) {
      const Step& s = plans[r].steps[idx];
      if (s.count == 1 && s.dst.offset == 1000) continue;
      EXPECT_LE(s.dst.offset + s.count, 1000u);
    }
  });
}

// The latency pass: the same pairs as the bulk rounds, ping-pong only (one
// byte each way per ping, answered in order), and nothing for a rank that
// sits the round out.
TEST(ProbePlanTest, PingPassPairsUpWithoutBulk) {
  const int n = 5;
  auto build = [&](int r, const Round& round, ProbeSteps* steps) {
    return BuildPingPlan(r, n, round, 4, steps);
  };
  ForEachPairedRank(n, build, [](const std::vector<Plan>& plans,
                                 const std::vector<ProbeSteps>& steps, int r, int p) {
    EXPECT_TRUE(steps[r].bulk_recvs.empty());
    ASSERT_EQ(steps[r].ping_pong.size(), 8u);
    EXPECT_EQ(plans[r].steps.size(), 8u);
    ASSERT_EQ(plans[r].sends_to[p].size(), 4u);
    ASSERT_EQ(plans[p].recvs_from[r].size(), 4u);
    for (int32_t idx : steps[r].ping_pong) EXPECT_EQ(plans[r].steps[idx].count, 1u);
    // The initiator pings first; the responder answers what it received.
    const Step& first = plans[r].steps[steps[r].ping_pong[0]];
    EXPECT_EQ(first.kind, steps[r].initiator ? StepKind::kSend : StepKind::kRecv);
  });
}

// Rows as a transatlantic group would measure them: ranks 0,1 in one
// region, 2,3 in the other; 0.5 ms within, 70 ms across; 125 MB/s pair
// links; one 125 MB/s trunk per direction shared by the crossing pairs.
std::vector<ProbeRow> TransatlanticRows(const std::vector<Round>& rounds) {
  const int n = 4;
  auto region = [](int r) { return r / 2; };
  std::vector<ProbeRow> rows(n);
  for (int r = 0; r < n; ++r) {
    rows[r].rtt_s.assign(n, -1);
    rows[r].recv_Bps.assign(n, -1);
  }
  for (const Round& round : rounds) {
    int crossing = 0;
    for (const auto& [a, b] : round) crossing += region(a) != region(b);
    for (const auto& [a, b] : round) {
      const bool across = region(a) != region(b);
      const double rtt = across ? 0.070 : 0.0005;
      const double rate = across ? 125e6 / crossing : 125e6;
      rows[a].rtt_s[b] = rows[b].rtt_s[a] = rtt;
      rows[a].recv_Bps[b] = rows[b].recv_Bps[a] = rate;
    }
  }
  return rows;
}

TEST(TopologyFromProbesTest, LatencyRegionsAndSharedTrunk) {
  std::vector<Round> rounds = RoundRobinRounds(4);
  auto t = TopologyFromProbes(TransatlanticRows(rounds), rounds);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size(), 4);
  EXPECT_DOUBLE_EQ(t->latency(0, 1), 0.00025);
  EXPECT_DOUBLE_EQ(t->latency(0, 3), 0.035);
  EXPECT_EQ(t->num_regions(), 2);
  EXPECT_EQ(t->region(0), t->region(1));
  EXPECT_EQ(t->region(2), t->region(3));
  EXPECT_NE(t->region(0), t->region(2));
  // Two crossing pairs shared the trunk in two of the rounds: together they
  // show its full rate, and each pair is credited the trunk alone.
  EXPECT_DOUBLE_EQ(t->trunk(t->region(0), t->region(2)), 125e6);
  EXPECT_DOUBLE_EQ(t->trunk(t->region(2), t->region(0)), 125e6);
  EXPECT_DOUBLE_EQ(t->bandwidth(0, 2), 125e6);
  EXPECT_DOUBLE_EQ(t->bandwidth(3, 1), 125e6);
  EXPECT_DOUBLE_EQ(t->bandwidth(0, 1), 125e6);
  // One NIC per peer: its fastest pair rate.
  EXPECT_DOUBLE_EQ(t->egress(0), 125e6);
  EXPECT_DOUBLE_EQ(t->ingress(3), 125e6);
}

// Pairs of a round start one after another, so their averages add up to
// more than the trunk: the first had it to itself for a while.  The trunk
// is k x the slowest (the one that shared it longest), not the sum; a pair
// slowed by its own access link does not pull it under the fastest pair.
TEST(TopologyFromProbesTest, StaggeredPairsDoNotInflateTheTrunk) {
  const int n = 6;
  auto region = [](int r) { return r / 3; };
  std::vector<Round> rounds = RoundRobinRounds(n);
  const double trunk = 37.5e6;
  // The i-th crossing pair of a round of k: an early start shows more.
  auto staggered = [&](int i, int k) { return trunk / k * (1.0 + 0.1 * (k - 1 - i)); };
  std::vector<ProbeRow> rows(n);
  for (int r = 0; r < n; ++r) {
    rows[r].rtt_s.assign(n, -1);
    rows[r].recv_Bps.assign(n, -1);
  }
  for (const Round& round : rounds) {
    int k = 0;
    for (const auto& [a, b] : round) k += region(a) != region(b);
    int i = 0;
    for (const auto& [a, b] : round) {
      const bool across = region(a) != region(b);
      rows[a].rtt_s[b] = rows[b].rtt_s[a] = across ? 0.070 : 0.0005;
      rows[a].recv_Bps[b] = rows[b].recv_Bps[a] = across ? staggered(i++, k) : 125e6;
    }
  }
  auto t = TopologyFromProbes(rows, rounds);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->num_regions(), 2);
  EXPECT_NEAR(t->trunk(t->region(0), t->region(3)), trunk, 1);
  EXPECT_NEAR(t->trunk(t->region(3), t->region(0)), trunk, 1);

  // One of two crossing pairs held back by its own 5 MB/s access link: the
  // trunk is at least what the other pair alone carried.
  std::vector<Round> two = {{{0, 2}, {1, 3}}};
  std::vector<ProbeRow> r4(4);
  for (int r = 0; r < 4; ++r) {
    r4[r].rtt_s.assign(4, 0.0005);
    r4[r].recv_Bps.assign(4, 125e6);
  }
  for (int a : {0, 1}) {
    for (int b : {2, 3}) r4[a].rtt_s[b] = r4[b].rtt_s[a] = 0.070;
  }
  r4[2].recv_Bps[0] = r4[0].recv_Bps[2] = 5e6;
  r4[3].recv_Bps[1] = r4[1].recv_Bps[3] = 100e6;
  auto m = TopologyFromProbes(r4, two);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->num_regions(), 2);
  EXPECT_DOUBLE_EQ(m->trunk(m->region(0), m->region(2)), 100e6);
}

TEST(TopologyFromProbesTest, SlowAccessLinkLimitsEveryFlowOfItsPeer) {
  // Rank 2 sits behind a 12.5 MB/s link: every pair rate to and from it
  // shows it, and so do its egress and ingress.
  std::vector<Round> rounds = RoundRobinRounds(3);
  std::vector<ProbeRow> rows(3);
  for (int r = 0; r < 3; ++r) {
    rows[r].rtt_s.assign(3, 0.0005);
    rows[r].recv_Bps.assign(3, r == 2 ? 12.5e6 : 125e6);
  }
  rows[0].recv_Bps[2] = rows[1].recv_Bps[2] = 12.5e6;
  auto t = TopologyFromProbes(rows, rounds);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_DOUBLE_EQ(t->egress(2), 12.5e6);
  EXPECT_DOUBLE_EQ(t->ingress(2), 12.5e6);
  EXPECT_DOUBLE_EQ(t->egress(0), 125e6);
}

TEST(TopologyFromProbesTest, SmallerOfBothRoundTripsWins) {
  std::vector<Round> rounds = RoundRobinRounds(2);
  std::vector<ProbeRow> rows(2);
  rows[0].rtt_s = {-1, 0.010};
  rows[1].rtt_s = {0.012, -1};
  rows[0].recv_Bps = {-1, 5e6};
  rows[1].recv_Bps = {7e6, -1};
  auto t = TopologyFromProbes(rows, rounds);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_DOUBLE_EQ(t->latency(0, 1), 0.005);
  EXPECT_DOUBLE_EQ(t->latency(1, 0), 0.005);
  EXPECT_DOUBLE_EQ(t->bandwidth(0, 1), 7e6);  // measured by rank 1
  EXPECT_DOUBLE_EQ(t->bandwidth(1, 0), 5e6);
}

TEST(TopologyFromProbesTest, MissingOrMalformedMeasurementsAreErrors) {
  std::vector<Round> rounds = RoundRobinRounds(3);
  std::vector<ProbeRow> rows(3);
  for (auto& r : rows) {
    r.rtt_s.assign(3, 0.001);
    r.recv_Bps.assign(3, 1e9);
  }
  rows[2].recv_Bps[0] = -1;
  auto t = TopologyFromProbes(rows, rounds);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("ranks 0 and 2"), std::string::npos)
      << t.status();
  rows[2].recv_Bps[0] = 1e9;
  rows[1].rtt_s.pop_back();
  t = TopologyFromProbes(rows, rounds);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("rank 1 reported"), std::string::npos)
      << t.status();
}

}  // namespace
}  // namespace meridian::planner

namespace meridian::planner {
namespace {

TEST(ProbeShapeTest, LongerPathsGetLargerBulksUpToTheCap) {
  ProbeShape shape;  // 8 MiB per connection, 64 MiB cap
  EXPECT_EQ(PairBulkBytes(shape, 1), 8u << 20);
  EXPECT_EQ(PairBulkBytes(shape, 0), 8u << 20);  // no link: as one connection
  EXPECT_EQ(PairBulkBytes(shape, 4), 32u << 20);
  EXPECT_EQ(PairBulkBytes(shape, 21), 64u << 20);
  shape.bulk_bytes = 128u << 20;  // a base above the cap wins
  EXPECT_EQ(PairBulkBytes(shape, 3), 128u << 20);
}

}  // namespace
}  // namespace meridian::planner
