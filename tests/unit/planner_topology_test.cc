// Topology model: validation, accessors, region clustering on the reference
// scenarios and on generated region models (ranks in order and shuffled),
// the text form (exact round trip, malformed input from users), and the
// generators' determinism.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "planner/topology.h"
#include "planner/topology_gen.h"
#include "tests/unit/planner_test_topology.h"

namespace meridian::planner {
namespace {

// gmock is not linked into the unit tests, hence no HasSubstr.
::testing::AssertionResult Contains(const absl::Status& status, const std::string& part) {
  const std::string message(status.message());
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << message << "\" lacks \"" << part << "\"";
}

Topology Scenario(const std::string& name) {
  absl::StatusOr<Topology> t = ScenarioTopology(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Topology{};
}

// Every field plans use, and the names too (the text format keeps them).
void ExpectSameTopologyAndNames(const Topology& a, const Topology& b) {
  test_topology::ExpectSameTopology(a, b);
  EXPECT_EQ(a.names, b.names);
}

// ---------------------------------------------------------------- validation

TEST(ValidateTopology, AcceptsUniformAndScenarios) {
  EXPECT_TRUE(ValidateTopology(Topology::Uniform(1, 0, 1e9)).ok());
  EXPECT_TRUE(ValidateTopology(Topology::Uniform(5, 1e-3, 1e9)).ok());
  for (const std::string& name : ScenarioNames()) {
    EXPECT_TRUE(ValidateTopology(Scenario(name)).ok()) << name;
  }
}

TEST(ValidateTopology, NamesTheFirstBadEntry) {
  struct Case {
    const char* what;
    void (*mutate)(Topology*);
    const char* message;
  };
  const Case cases[] = {
      {"no peers", [](Topology* t) { *t = Topology{}; }, "peers is 0"},
      {"short latency", [](Topology* t) { t->latency_s.pop_back(); }, "latency_s has 15"},
      {"negative latency", [](Topology* t) { t->latency_s[1 * 4 + 2] = -1; },
       "latency_s[1][2]"},
      {"NaN latency", [](Topology* t) { t->latency_s[3] = std::nan(""); }, "latency_s[0][3]"},
      {"infinite bandwidth",
       [](Topology* t) { t->bandwidth_Bps[4] = std::numeric_limits<double>::infinity(); },
       "bandwidth_Bps[1][0]"},
      {"zero bandwidth", [](Topology* t) { t->bandwidth_Bps[2 * 4 + 3] = 0; },
       "bandwidth_Bps[2][3]"},
      {"egress size", [](Topology* t) { t->egress_Bps.assign(3, 1); }, "egress_Bps has 3"},
      {"negative ingress", [](Topology* t) { t->ingress_Bps = {1, 1, -5, 1}; },
       "ingress_Bps[2]"},
      {"region size", [](Topology* t) { t->region_of = {0, 0}; }, "region_of has 2"},
      {"region id", [](Topology* t) { t->region_of = {0, 0, 7, 0}; }, "region_of[2]"},
      {"trunk size", [](Topology* t) {
         t->region_of = {0, 0, 1, 1};
         t->trunk_Bps.assign(9, 1);
       },
       "trunk_Bps has 9"},
      {"trunk value", [](Topology* t) {
         t->region_of = {0, 0, 1, 1};
         t->trunk_Bps = {0, 1, std::nan(""), 0};
       },
       "trunk_Bps[2]"},
      {"names size", [](Topology* t) { t->names = {"a"}; }, "names has 1"},
      {"name with newline", [](Topology* t) { t->names = {"a", "b\nc", "d", "e"}; },
       "names[1]"},
  };
  for (const Case& c : cases) {
    Topology t = Topology::Uniform(4, 1e-3, 1e8);
    c.mutate(&t);
    absl::Status s = ValidateTopology(t);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_TRUE(Contains(s, c.message)) << c.what;
  }
  // The diagonal is unused: zero bandwidth there is fine.
  Topology t = Topology::Uniform(3, 1e-3, 1e8);
  EXPECT_EQ(t.bandwidth(1, 1), 0);
  EXPECT_TRUE(ValidateTopology(t).ok());
}

// ---------------------------------------------------------------- accessors

TEST(Topology, RegionsAndTrunks) {
  Topology t = Topology::Uniform(4, 2e-3, 5e7);
  EXPECT_EQ(t.num_regions(), 1);
  EXPECT_EQ(t.region(3), 0);
  EXPECT_EQ(t.latency(0, 0), 0);
  EXPECT_EQ(t.latency(0, 3), 2e-3);
  EXPECT_EQ(t.trunk(0, 0), 0);  // none known
  t.region_of.clear();          // every peer its own region
  EXPECT_EQ(t.num_regions(), 4);
  EXPECT_EQ(t.region(2), 2);
  t.region_of = {0, 1, 1, 2};
  t.trunk_Bps = {0, 10, 20, 30, 0, 40, 50, 60, 0};
  EXPECT_EQ(t.num_regions(), 3);
  EXPECT_EQ(t.trunk(0, 2), 20);
  EXPECT_EQ(t.trunk(2, 1), 60);
  EXPECT_EQ(t.trunk(3, 0), 0);  // out of range: no limit known
  EXPECT_EQ(t.egress(1), 0);
}

TEST(RegionModel, FormulasAndOverrides) {
  RegionModel m;
  m.peers = 4;
  m.regions = 2;
  m.region_of = {0, 1, 0, 1};
  m.region_latency_s = {1e-3, 50e-3, 50e-3, 2e-3};
  m.region_bandwidth_Bps = {1e9, 1e8, 1e8, 1e9};
  m.trunk_Bps = {0, 3e8, 4e8, 0};
  m.access_Bps = {0, 0, 5e7, 0};
  m.extra_latency_s = {0, 1e-3, 0, 2e-3};
  m.overrides = {{1, 3, 1e6}, {3, 0, 2e6}};
  EXPECT_EQ(m.latency(0, 1), 50e-3 + 1e-3);
  EXPECT_EQ(m.latency(1, 3), 2e-3 + 3e-3);
  EXPECT_EQ(m.latency(2, 2), 0);
  EXPECT_EQ(m.bandwidth(0, 1), 1e8);
  EXPECT_EQ(m.bandwidth(0, 2), 5e7);  // peer 2's access link
  EXPECT_EQ(m.bandwidth(1, 3), 1e6);  // override, one direction only
  EXPECT_EQ(m.bandwidth(3, 1), 1e9);
  EXPECT_EQ(m.bandwidth(3, 0), 2e6);
  EXPECT_EQ(m.egress(2), 5e7);
  EXPECT_EQ(m.ingress(2), 5e7);
  EXPECT_EQ(m.egress(0), 0);
  EXPECT_EQ(m.trunk(1, 0), 4e8);
  EXPECT_EQ(m.num_regions(), 2);
  Topology dense = ToDense(m);
  ASSERT_TRUE(ValidateTopology(dense).ok()) << ValidateTopology(dense);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      if (i == j) continue;
      EXPECT_EQ(dense.latency(i, j), m.latency(i, j));
      EXPECT_EQ(dense.bandwidth(i, j), m.bandwidth(i, j));
    }
    EXPECT_EQ(dense.egress(i), m.egress(i));
    EXPECT_EQ(dense.region(i), m.region(i));
  }
  EXPECT_EQ(dense.trunk(0, 1), 3e8);
}

// ---------------------------------------------------------------- scenarios

TEST(ScenarioTopology, MatchesTheReferenceTable) {
  Topology t = Scenario("three-continents");
  ASSERT_EQ(t.peers, 6);
  EXPECT_EQ(t.region_of, (std::vector<int>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(t.latency(0, 1), 0.25e-3);
  EXPECT_EQ(t.latency(0, 2), 75e-3);     // eu-central - us-west 150 ms RTT
  EXPECT_EQ(t.latency(5, 1), 112.5e-3);  // ap-northeast - eu-central 225 ms
  EXPECT_EQ(t.latency(3, 4), 50e-3);     // us-west - ap-northeast 100 ms
  EXPECT_EQ(t.bandwidth(0, 1), 125e6);
  EXPECT_EQ(t.bandwidth(0, 2), 25e6);
  EXPECT_EQ(t.trunk(0, 1), 25e6);
  EXPECT_EQ(t.trunk(2, 0), 25e6);
  EXPECT_EQ(t.trunk(1, 1), 0);
  EXPECT_EQ(t.names[2], "us-west/2");

  Topology s = Scenario("straggler");
  EXPECT_EQ(s.num_regions(), 1);
  EXPECT_EQ(s.egress(3), 12.5e6);
  EXPECT_EQ(s.ingress(3), 12.5e6);
  EXPECT_EQ(s.egress(0), 0);
  EXPECT_EQ(s.bandwidth(0, 3), 12.5e6);
  EXPECT_EQ(s.bandwidth(3, 1), 12.5e6);
  EXPECT_EQ(s.bandwidth(0, 1), 125e6);

  EXPECT_EQ(Scenario("transatlantic-6").trunk(0, 1), 37.5e6);
  EXPECT_EQ(Scenario("europe").latency(1, 2), 12.5e-3);
  EXPECT_EQ(Scenario("transatlantic").bandwidth(0, 3), 125e6);
}

TEST(ScenarioTopology, UnknownNameIsAClearError) {
  absl::StatusOr<Topology> t = ScenarioTopology("mars");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(t.status(), "mars"));
  EXPECT_TRUE(Contains(t.status(), "three-continents"));
}

// ---------------------------------------------------------------- clustering

TEST(ClusterRegions, FindsTheScenarioRegions) {
  for (const std::string& name : ScenarioNames()) {
    Topology t = Scenario(name);
    if (t.peers < 3) continue;  // two peers are always one region
    EXPECT_EQ(ClusterRegions(t), t.region_of) << name;
  }
  EXPECT_EQ(ClusterRegions(Scenario("straggler")), (std::vector<int>{0, 0, 0, 0}));
}

TEST(ClusterRegions, FindsRegionsAfterShufflingRanks) {
  for (const char* name : {"europe", "transatlantic-6", "three-continents"}) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      std::vector<int32_t> perm;
      Topology t = ShuffleRanks(Scenario(name), seed, &perm);
      ASSERT_TRUE(ValidateTopology(t).ok());
      EXPECT_EQ(ClusterRegions(t), t.region_of) << name << " seed " << seed;
    }
  }
}

TEST(ClusterRegions, FindsGeneratedRegions) {
  for (bool shuffled : {false, true}) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      RegionSpec spec;
      spec.regions = 5;
      spec.peers_per_region = 6;
      spec.extra_latency_max_s = 0.2e-3;
      spec.straggler_fraction = 0.1;
      spec.asymmetric_fraction = 0.05;
      spec.shuffle_ranks = shuffled;
      RegionModel m = GenerateRegions(spec, seed);
      Topology dense = ToDense(m);
      ASSERT_TRUE(ValidateTopology(dense).ok()) << ValidateTopology(dense);
      EXPECT_EQ(ClusterRegions(dense), m.region_of) << "seed " << seed << " shuffled "
                                                    << shuffled;
    }
  }
}

TEST(ClusterRegions, OneRegionWithoutAClearGap) {
  // RTTs spread evenly from 1 to 2 ms: no 3x gap, so no split.
  Topology t = Topology::Uniform(5, 0, 1e9);
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) {
      if (i != j) t.latency_s[i * 5 + j] = (1 + 0.1 * (i + j)) * 1e-3;
    }
  }
  EXPECT_EQ(ClusterRegions(t), (std::vector<int>(5, 0)));
  EXPECT_EQ(ClusterRegions(Topology::Uniform(2, 0.1, 1e9)), (std::vector<int>(2, 0)));
  EXPECT_EQ(ClusterRegions(Topology::Uniform(1, 0, 1e9)), (std::vector<int>(1, 0)));
  // Co-located peers (zero latency) against distant ones: infinite gap.
  Topology z = Topology::Uniform(4, 0, 1e9);
  z.latency_s = {0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0};
  EXPECT_EQ(ClusterRegions(z), (std::vector<int>{0, 0, 1, 1}));
}

// ---------------------------------------------------------------- generators

TEST(GenerateRegions, DeterministicAndAsSpecified) {
  RegionSpec spec;
  spec.regions = 6;
  spec.peers_per_region = 10;
  spec.straggler_fraction = 0.1;
  spec.asymmetric_fraction = 0.02;
  spec.extra_latency_max_s = 1e-4;
  spec.shuffle_ranks = true;
  RegionModel a = GenerateRegions(spec, 42), b = GenerateRegions(spec, 42);
  EXPECT_EQ(ToDense(a).latency_s, ToDense(b).latency_s);
  EXPECT_EQ(ToDense(a).bandwidth_Bps, ToDense(b).bandwidth_Bps);
  EXPECT_EQ(a.region_of, b.region_of);
  EXPECT_NE(ToDense(a).latency_s, ToDense(GenerateRegions(spec, 43)).latency_s);

  ASSERT_EQ(a.peers, 60);
  std::vector<int> per_region(6, 0);
  int first_seen = -1;
  for (int r : a.region_of) {
    ++per_region[r];
    EXPECT_LE(r, first_seen + 1) << "regions numbered by lowest rank";
    first_seen = std::max(first_seen, r);
  }
  EXPECT_EQ(per_region, std::vector<int>(6, 10));
  int stragglers = 0;
  for (double access : a.access_Bps) stragglers += access == spec.straggler_access_Bps;
  EXPECT_EQ(stragglers, 6);
  // 2% of 60 x 59 ordered pairs, fewer when the sample repeats a pair.
  EXPECT_GT(a.overrides.size(), 55u);
  EXPECT_LE(a.overrides.size(), 71u);
  for (size_t k = 1; k < a.overrides.size(); ++k) {
    EXPECT_LT(std::make_pair(a.overrides[k - 1].from, a.overrides[k - 1].to),
              std::make_pair(a.overrides[k].from, a.overrides[k].to));
  }
  for (const RegionModel::Override& o : a.overrides) {
    RegionModel plain = a;
    plain.overrides.clear();
    EXPECT_DOUBLE_EQ(o.bandwidth_Bps, plain.bandwidth(o.from, o.to) * spec.asymmetric_factor);
  }
  for (int i = 0; i < a.peers; ++i) {
    for (int j = 0; j < a.peers; ++j) {
      if (i == j) continue;
      EXPECT_EQ(a.latency(i, j), a.latency(j, i));
      const bool same = a.region(i) == a.region(j);
      const double base = a.latency(i, j) - a.extra_latency_s[i] - a.extra_latency_s[j];
      if (same) {
        EXPECT_LE(base, spec.intra_latency_max_s + 1e-15);
      } else {
        EXPECT_GE(base, spec.inter_latency_min_s);
        EXPECT_GT(a.trunk(a.region(i), a.region(j)), 0);
      }
    }
  }
}

TEST(GenerateRegions, TenThousandPeersWithoutDenseStorage) {
  RegionSpec spec;
  spec.regions = 100;
  spec.peers_per_region = 100;
  spec.straggler_fraction = 0.01;
  spec.asymmetric_fraction = 1e-4;
  spec.shuffle_ranks = true;
  RegionModel m = GenerateRegions(spec, 7);
  EXPECT_EQ(m.size(), 10000);
  EXPECT_EQ(m.region_latency_s.size(), 100u * 100u);
  EXPECT_GT(m.overrides.size(), 9000u);
  EXPECT_GT(m.latency(0, 9999), 0);
}

TEST(ShuffleRanks, PermutesEverythingConsistently) {
  Topology t = Scenario("three-continents");
  t.egress_Bps = {1, 2, 3, 4, 5, 6};
  std::vector<int32_t> perm;
  Topology s = ShuffleRanks(t, 9, &perm);
  ASSERT_TRUE(ValidateTopology(s).ok()) << ValidateTopology(s);
  std::vector<int32_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(s.names[k], t.names[perm[k]]);
    EXPECT_EQ(s.egress(k), t.egress(perm[k]));
    for (int l = 0; l < 6; ++l) {
      EXPECT_EQ(s.latency(k, l), t.latency(perm[k], perm[l]));
      EXPECT_EQ(s.bandwidth(k, l), t.bandwidth(perm[k], perm[l]));
      EXPECT_EQ(s.region(k) == s.region(l), t.region(perm[k]) == t.region(perm[l]));
      EXPECT_EQ(s.trunk(s.region(k), s.region(l)), t.trunk(t.region(perm[k]), t.region(perm[l])));
    }
  }
  EXPECT_EQ(s.region(0), 0);
  std::vector<int32_t> again;
  ShuffleRanks(t, 9, &again);
  EXPECT_EQ(again, perm);
}

// ---------------------------------------------------------------- text form

Topology AwkwardTopology() {
  // Values with no short decimal form, a subnormal, and the largest double.
  RegionSpec spec;
  spec.regions = 3;
  spec.peers_per_region = 3;
  spec.extra_latency_max_s = 1e-4;
  spec.straggler_fraction = 0.2;
  spec.shuffle_ranks = true;
  Topology t = ToDense(GenerateRegions(spec, 5));
  t.latency_s[1] = 0.1 + 0.2;
  t.latency_s[2] = 4.9406564584124654e-324;
  t.bandwidth_Bps[3] = std::numeric_limits<double>::max();
  t.names = {"a", "", " spaced name ", "10.0.0.4:7000", "end", "latency_s", "g", "h", "i"};
  return t;
}

TEST(TopologyText, ExactRoundTrip) {
  std::vector<Topology> cases = {AwkwardTopology(), Topology::Uniform(1, 0, 1)};
  for (const std::string& name : ScenarioNames()) cases.push_back(Scenario(name));
  for (const Topology& t : cases) {
    ASSERT_TRUE(ValidateTopology(t).ok());
    const std::string text = SerializeTopology(t);
    absl::StatusOr<Topology> back = ParseTopology(text);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
    ExpectSameTopologyAndNames(*back, t);
    EXPECT_EQ(SerializeTopology(*back), text);
  }
}

TEST(TopologyText, AcceptsWindowsLineEndingsAndAnySectionOrder) {
  const std::string text =
      "meridian-topology 1\r\npeers 2\r\nbandwidth_Bps\r\n0 5\r\n7 0\r\n"
      "region_of\r\n0 1\r\nlatency_s\r\n0\t0.5\r\n0.25  0\r\nend\r\n\r\n";
  absl::StatusOr<Topology> t = ParseTopology(text);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->latency(0, 1), 0.5);
  EXPECT_EQ(t->bandwidth(1, 0), 7);
  EXPECT_EQ(t->region(1), 1);
}

TEST(TopologyText, EveryTruncationIsAnError) {
  for (const Topology& t : {Scenario("three-continents"), Scenario("straggler")}) {
    const std::string text = SerializeTopology(t);
    // Dropping only the final newline leaves a complete file.
    for (size_t len = 0; len + 1 < text.size(); ++len) {
      absl::StatusOr<Topology> p = ParseTopology(text.substr(0, len));
      EXPECT_FALSE(p.ok()) << "prefix of " << len << " bytes parsed";
      if (!p.ok()) {
        EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
      }
    }
  }
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(TopologyText, RejectsMalformedInputNamingTheLine) {
  const std::string good =
      "meridian-topology 1\npeers 2\nlatency_s\n0 0.5\n0.5 0\nbandwidth_Bps\n0 5\n5 0\n"
      "region_of\n0 1\ntrunk_Bps 2\n0 1\n1 0\nend\n";
  ASSERT_TRUE(ParseTopology(good).ok()) << ParseTopology(good).status();
  struct Case {
    std::string text;
    const char* message;
  };
  const Case cases[] = {
      {"", "line 1: empty input"},
      {Replace(good, "topology 1", "topology 2"), "line 1: want \"meridian-topology 1\""},
      {Replace(good, "peers 2", "peers two"), "line 2: want \"peers N\""},
      {Replace(good, "peers 2", "peers 0"), "line 2: peers 0 is out of range"},
      {Replace(good, "peers 2", "peers -3"), "line 2: peers -3"},
      {Replace(good, "peers 2", "peers 2000000000"), "line 2: peers 2000000000 is out of range"},
      {Replace(good, "peers 2", "peers 60000"), "line 2: a peers x peers matrix needs"},
      {Replace(good, "0 0.5\n", "0\n"), "line 4: want 2 values, found 1"},
      {Replace(good, "0 0.5\n", "0 0.5 1\n"), "line 4: want 2 values, found 3"},
      {Replace(good, "0.5 0\n", "nan 0\n"), "line 5: value 1 (nan) must be finite"},
      {Replace(good, "0.5 0\n", "inf 0\n"), "line 5: value 1 (inf) must be finite"},
      {Replace(good, "0.5 0\n", "-0.5 0\n"), "line 5: value 1 (-0.5) must be finite and >= 0"},
      {Replace(good, "0.5 0\n", "0.5x 0\n"), "line 5: value 1 \"0.5x\" is not a number"},
      {Replace(good, "0.5 0\n", "0x1p3 0\n"), "line 5: value 1 \"0x1p3\" is not a number"},
      {Replace(good, "5 0\nregion", "0 0\nregion"), "line 8: value 1 is 0"},
      {Replace(good, "0 1\ntrunk", "0 2\ntrunk"), "line 10: region id 2 \"2\""},
      {Replace(good, "0 1\ntrunk", "0 1 1\ntrunk"), "line 10: want 2 region ids, found 3"},
      {Replace(good, "trunk_Bps 2", "trunk_Bps 3"), "line 11: want \"trunk_Bps R\""},
      {Replace(good, "trunk_Bps 2", "trunk_Bps 2000000000"), "line 11: want \"trunk_Bps R\""},
      {Replace(good, "region_of\n0 1\n", "region_of\n0 0\n"),
       "line 11: trunk_Bps has 2 regions but the peers are in 1"},
      {Replace(good, "trunk_Bps 2\n0 1\n1 0\n", "latency_s\n0 1\n1 0\n"),
       "line 11: section latency_s appears twice"},
      {Replace(good, "region_of\n", "regions\n"), "line 9: unknown section \"regions\""},
      {Replace(good, "latency_s\n", "latency_s 2\n"), "line 3: section latency_s takes no"},
      {Replace(good, "bandwidth_Bps\n0 5\n5 0\n", ""), "missing section bandwidth_Bps"},
      {good + "peers 3\n", "line 15: text after \"end\""},
      {Replace(good, "end\n", ""), "line 14: input ends before \"end\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Topology> t = ParseTopology(c.text);
    ASSERT_FALSE(t.ok()) << c.message;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_TRUE(Contains(t.status(), c.message));
  }
}

TEST(TopologyText, HugeDeclaredSizesAllocateNothingAbsurd) {
  // A small file that claims the largest sizes the format allows must be
  // refused before the matrices are allocated (and quickly).
  const auto start = std::chrono::steady_clock::now();
  for (const char* text :
       {"meridian-topology 1\npeers 65536\nlatency_s\n0 1\n",
        "meridian-topology 1\npeers 65536\nnames\na\nb\n"}) {
    absl::StatusOr<Topology> t = ParseTopology(text);
    EXPECT_FALSE(t.ok());
    EXPECT_TRUE(Contains(t.status(), "line 2"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace meridian::planner
