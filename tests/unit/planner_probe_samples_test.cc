// Measurements kept across epochs (planner/probe_samples.h): samples of a
// full probe rebuild exactly the topology the probe gave, a group without
// one member rebuilds from the rest, and a joiner's rounds hold only its
// pairs.
#include "planner/probe_samples.h"

#include <cstdlib>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "planner/probe.h"
#include "tests/unit/planner_test_topology.h"

namespace meridian::planner {
namespace {

// Rows of n ranks in regions of two (0,1 | 2,3 | 4,5): 0.4 ms within a
// region, 30 ms + 10 ms per region apart across; every rate distinct, and
// crossing pairs of one round share a 100 MB/s trunk per direction.
std::vector<ProbeRow> RegionRows(int n, const std::vector<Round>& rounds) {
  auto region = [](int r) { return r / 2; };
  std::vector<ProbeRow> rows(n);
  for (ProbeRow& row : rows) {
    row.rtt_s.assign(n, -1);
    row.recv_Bps.assign(n, -1);
  }
  for (const Round& round : rounds) {
    std::map<std::pair<int, int>, int> crossing;
    for (const auto& [a, b] : round) {
      if (region(a) != region(b)) ++crossing[{region(a), region(b)}];
    }
    for (const auto& [a, b] : round) {
      const bool across = region(a) != region(b);
      const double rtt = across ? 0.030 + 0.010 * std::abs(region(a) - region(b)) : 0.0004;
      const double share = across ? 100e6 / crossing[{region(a), region(b)}] : 1e9;
      rows[a].rtt_s[b] = rtt * 1.01;  // the two ends see slightly different
      rows[b].rtt_s[a] = rtt;
      rows[b].recv_Bps[a] = share * (1 + 0.01 * a);  // a -> b
      rows[a].recv_Bps[b] = share * (1 + 0.01 * b + 0.001);
    }
  }
  return rows;
}

using test_topology::ExpectSameTopology;

TEST(ProbeSamplesTest, SamplesOfAFullProbeRebuildItsTopologyExactly) {
  for (int n : {2, 3, 4, 5, 6}) {
    const std::vector<Round> rounds = RoundRobinRounds(n);
    const std::vector<ProbeRow> rows = RegionRows(n, rounds);
    auto probed = TopologyFromProbes(rows, rounds);
    ASSERT_TRUE(probed.ok()) << probed.status();
    auto samples = SamplesFromProbes(rows, rounds, 5);
    ASSERT_TRUE(samples.ok()) << samples.status();
    EXPECT_EQ(samples->size(), static_cast<size_t>(n * (n - 1) / 2));
    for (const PairSample& s : *samples) {
      EXPECT_LT(s.a, s.b);
      EXPECT_GE(s.round, 5u);
      EXPECT_EQ(s.rtt_s, rows[s.b].rtt_s[s.a]);  // the smaller end
      EXPECT_EQ(s.a_to_b_Bps, rows[s.b].recv_Bps[s.a]);
    }
    auto rebuilt = TopologyFromSamples(n, *samples);
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    ExpectSameTopology(*rebuilt, *probed);
    if (n == 6) {
      EXPECT_EQ(rebuilt->num_regions(), 3);
    }
  }
}

TEST(ProbeSamplesTest, GroupWithoutOneMemberRebuildsFromTheRest) {
  const int n = 6;
  const std::vector<Round> rounds = RoundRobinRounds(n);
  auto samples = SamplesFromProbes(RegionRows(n, rounds), rounds, 0);
  ASSERT_TRUE(samples.ok());
  auto full = TopologyFromSamples(n, *samples);
  ASSERT_TRUE(full.ok());
  // Rank 1 leaves: ranks above it move down by one.
  const int gone = 1;
  auto new_rank = [&](int r) { return r < gone ? r : r - 1; };
  std::vector<PairSample> kept;
  for (PairSample s : *samples) {
    if (s.a == gone || s.b == gone) continue;
    s.a = new_rank(s.a);
    s.b = new_rank(s.b);
    kept.push_back(s);
  }
  auto smaller = TopologyFromSamples(n - 1, kept);
  ASSERT_TRUE(smaller.ok()) << smaller.status();
  EXPECT_EQ(smaller->num_regions(), 3);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j || i == gone || j == gone) continue;
      EXPECT_EQ(smaller->latency(new_rank(i), new_rank(j)), full->latency(i, j));
      if (full->region(i) == full->region(j)) {
        EXPECT_EQ(smaller->bandwidth(new_rank(i), new_rank(j)), full->bandwidth(i, j));
      }
    }
  }
}

TEST(ProbeSamplesTest, AJoinerIsProbedAloneAndMergedWithTheKnownPairs) {
  for (int n : {3, 4, 5, 8}) {
    // Ranks 0..n-2 measured earlier (tags from an older epoch, not compact).
    const std::vector<Round> old_rounds = RoundRobinRounds(n - 1);
    auto known = SamplesFromProbes(RegionRows(n - 1, old_rounds), old_rounds, 40);
    ASSERT_TRUE(known.ok());
    const std::vector<Round> left = RoundsWithout(RoundRobinRounds(n), *known);
    // Only the joiner's pairs, each once, one per round, no empty round.
    std::set<int> partners;
    for (const Round& round : left) {
      ASSERT_EQ(round.size(), 1u) << n;
      EXPECT_EQ(round[0].second, n - 1);
      EXPECT_TRUE(partners.insert(round[0].first).second);
    }
    EXPECT_EQ(partners.size(), static_cast<size_t>(n - 1));

    std::vector<PairSample> merged = *known;
    const uint32_t first = CompactRoundTags(&merged);
    EXPECT_EQ(first, static_cast<uint32_t>(old_rounds.size()));
    auto probed = SamplesFromProbes(RegionRows(n, left), left, first);
    ASSERT_TRUE(probed.ok()) << probed.status();
    for (const PairSample& s : *probed) EXPECT_GE(s.round, first);
    merged.insert(merged.end(), probed->begin(), probed->end());
    auto t = TopologyFromSamples(n, merged);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->peers, n);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (i != j) {
          EXPECT_GT(t->bandwidth(i, j), 0) << i << "->" << j;
        }
      }
    }
  }
}

TEST(ProbeSamplesTest, CompactingKeepsWhichPairsRanTogether) {
  std::vector<PairSample> s(4);
  s[0].round = 7;
  s[1].round = 3;
  s[2].round = 7;
  s[3].round = 4000000000u;
  EXPECT_EQ(CompactRoundTags(&s), 3u);
  EXPECT_EQ(s[0].round, 1u);
  EXPECT_EQ(s[1].round, 0u);
  EXPECT_EQ(s[2].round, 1u);
  EXPECT_EQ(s[3].round, 2u);
  std::vector<PairSample> none;
  EXPECT_EQ(CompactRoundTags(&none), 0u);
}

TEST(ProbeSamplesTest, RoundsWithoutKnownPairsDropsEmptyRounds) {
  const std::vector<Round> all = RoundRobinRounds(4);
  EXPECT_EQ(RoundsWithout(all, {}), all);
  std::vector<PairSample> every;
  for (const Round& round : all) {
    for (const auto& [a, b] : round) every.push_back(PairSample{a, b, 1e-3, 1e9, 1e9, 0});
  }
  EXPECT_TRUE(RoundsWithout(all, every).empty());
}

TEST(ProbeSamplesTest, SamplesThatDoNotCoverTheGroupOnceAreErrors) {
  const PairSample ab{0, 1, 1e-3, 1e9, 1e9, 0};
  const PairSample ac{0, 2, 1e-3, 1e9, 1e9, 0};
  const PairSample bc{1, 2, 1e-3, 1e9, 1e9, 1};
  EXPECT_TRUE(TopologyFromSamples(3, {ab, ac, bc}).ok());
  EXPECT_FALSE(TopologyFromSamples(3, {ab, ac}).ok());          // missing
  EXPECT_FALSE(TopologyFromSamples(3, {ab, ac, bc, ab}).ok());  // twice
  PairSample outside = bc;
  outside.b = 3;
  EXPECT_FALSE(TopologyFromSamples(3, {ab, ac, outside}).ok());
  PairSample upside_down = bc;
  std::swap(upside_down.a, upside_down.b);
  EXPECT_FALSE(TopologyFromSamples(3, {ab, ac, upside_down}).ok());
  PairSample zero = bc;
  zero.b_to_a_Bps = 0;
  EXPECT_FALSE(TopologyFromSamples(3, {ab, ac, zero}).ok());
  // Rows with a pair nobody measured cannot make samples.
  std::vector<Round> rounds = RoundRobinRounds(3);
  std::vector<ProbeRow> rows = RegionRows(3, rounds);
  rows[2].recv_Bps[0] = -1;
  EXPECT_FALSE(SamplesFromProbes(rows, rounds, 0).ok());
}

}  // namespace
}  // namespace meridian::planner
