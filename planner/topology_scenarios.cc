// The reference WAN scenarios (shared/topologies/continents.md, emulated by
// perf/wan/scenarios/*.json) as the dense Topology the planner would
// measure there.  The tables below mirror the JSON files; keep them in step.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "planner/topology_gen.h"

namespace meridian::planner {
namespace {

constexpr double kMbit = 1e6 / 8;  // bytes per second
constexpr double kIntraRegionRttS = 0.5e-3;
constexpr double kIntraRegionBps = 1000 * kMbit;

struct Trunk {
  absl::string_view a, b;
  double rtt_ms;
  double rate_mbit;
};

struct Scenario {
  absl::string_view name;
  std::vector<absl::string_view> peers;  // region of each rank
  std::vector<Trunk> trunks;            // both directions at the rate
  int straggler = -1;                   // peer behind a slow access link
  double straggler_mbit = 0;
};

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"europe",
       {"eu-west", "eu-west", "eu-central", "eu-central"},
       {{"eu-west", "eu-central", 25, 1000}}},
      {"europe-8",
       {"eu-west", "eu-west", "eu-west", "eu-west", "eu-central", "eu-central", "eu-central",
        "eu-central"},
       {{"eu-west", "eu-central", 25, 1000}}},
      {"transatlantic",
       {"eu-west", "eu-west", "us-east", "us-east"},
       {{"eu-west", "us-east", 70, 1000}}},
      {"transatlantic-6",
       {"eu-west", "eu-west", "eu-west", "us-east", "us-east", "us-east"},
       {{"eu-west", "us-east", 70, 300}}},
      {"three-continents",
       {"eu-central", "eu-central", "us-west", "us-west", "ap-northeast", "ap-northeast"},
       {{"eu-central", "us-west", 150, 200},
        {"eu-central", "ap-northeast", 225, 200},
        {"us-west", "ap-northeast", 100, 200}}},
      {"three-continents-shuffled",
       {"eu-central", "us-west", "ap-northeast", "eu-central", "us-west", "ap-northeast"},
       {{"eu-central", "us-west", 150, 200},
        {"eu-central", "ap-northeast", 225, 200},
        {"us-west", "ap-northeast", 100, 200}}},
      {"straggler", {"eu-west", "eu-west", "eu-west", "eu-west"}, {}, 3, 100},
      {"two-regions-ci", {"eu-west", "us-east"}, {{"eu-west", "us-east", 20, 200}}},
  };
  return kScenarios;
}

Topology Build(const Scenario& sc) {
  // Regions in order of first appearance: numbered by lowest rank.
  std::vector<absl::string_view> regions;
  std::vector<int> region_of;
  for (absl::string_view r : sc.peers) {
    int id = 0;
    while (id < static_cast<int>(regions.size()) && regions[id] != r) ++id;
    if (id == static_cast<int>(regions.size())) regions.push_back(r);
    region_of.push_back(id);
  }
  const int n = static_cast<int>(sc.peers.size());
  const int nr = static_cast<int>(regions.size());
  auto region_id = [&](absl::string_view name) {
    for (int id = 0; id < nr; ++id) {
      if (regions[id] == name) return id;
    }
    return -1;
  };
  Topology t;
  t.peers = n;
  t.region_of = region_of;
  t.latency_s.assign(static_cast<size_t>(n) * n, 0);
  t.bandwidth_Bps.assign(static_cast<size_t>(n) * n, 0);
  // Region-level one-way latency and per-pair rate.
  std::vector<double> rl(static_cast<size_t>(nr) * nr, kIntraRegionRttS / 2);
  std::vector<double> rb(static_cast<size_t>(nr) * nr, kIntraRegionBps);
  if (!sc.trunks.empty()) t.trunk_Bps.assign(static_cast<size_t>(nr) * nr, 0);
  for (const Trunk& tr : sc.trunks) {
    const int a = region_id(tr.a), b = region_id(tr.b);
    for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
      const size_t cell = static_cast<size_t>(x) * nr + y;
      rl[cell] = tr.rtt_ms * 1e-3 / 2;
      rb[cell] = std::min(kIntraRegionBps, tr.rate_mbit * kMbit);
      t.trunk_Bps[cell] = tr.rate_mbit * kMbit;
    }
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      const size_t cell = static_cast<size_t>(region_of[i]) * nr + region_of[j];
      t.latency_s[static_cast<size_t>(i) * n + j] = rl[cell];
      double bw = rb[cell];
      if (i == sc.straggler || j == sc.straggler) bw = std::min(bw, sc.straggler_mbit * kMbit);
      t.bandwidth_Bps[static_cast<size_t>(i) * n + j] = bw;
    }
  }
  if (sc.straggler >= 0) {
    t.egress_Bps.assign(n, 0);
    t.ingress_Bps.assign(n, 0);
    t.egress_Bps[sc.straggler] = t.ingress_Bps[sc.straggler] = sc.straggler_mbit * kMbit;
  }
  for (int i = 0; i < n; ++i) {
    t.names.push_back(absl::StrCat(sc.peers[i], "/", i));
  }
  return t;
}

}  // namespace

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const Scenario& sc : Scenarios()) names.emplace_back(sc.name);
  return names;
}

absl::StatusOr<Topology> ScenarioTopology(const std::string& name) {
  for (const Scenario& sc : Scenarios()) {
    if (sc.name == name) return Build(sc);
  }
  return absl::NotFoundError(absl::StrCat("unknown topology scenario \"", name,
                                          "\"; known: ", absl::StrJoin(ScenarioNames(), ", ")));
}

}  // namespace meridian::planner
