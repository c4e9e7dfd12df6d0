// Generated topologies for the simulator and the tests: seeded region
// models of any size, the reference WAN scenarios as the planner would
// measure them, rank shuffles, and dense copies of compact models.  Every
// function is deterministic: the same arguments give the same topology on
// every platform (own sampling on top of std::mt19937_64, no
// std::*_distribution, whose output the standard leaves to the library).
#ifndef MERIDIAN_PLANNER_TOPOLOGY_GEN_H_
#define MERIDIAN_PLANNER_TOPOLOGY_GEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "planner/topology.h"

namespace meridian::planner {

// Ranges are sampled uniformly; a range with min == max is a constant.
struct RegionSpec {
  int regions = 4;
  int peers_per_region = 8;
  // One-way latency inside a region (per region) and between regions.
  // Regions are placed at random points of a unit square and the
  // inter-region latency grows linearly with their distance, from the min
  // (same point) to the max (opposite corners), so latencies obey the
  // triangle inequality like real geography.
  double intra_latency_min_s = 0.1e-3, intra_latency_max_s = 0.5e-3;
  double inter_latency_min_s = 5e-3, inter_latency_max_s = 120e-3;
  // Per-pair bandwidth inside a region (per region) and between two regions
  // (per unordered region pair, the same both ways).
  double intra_bandwidth_min_Bps = 125e6, intra_bandwidth_max_Bps = 1.25e9;
  double inter_bandwidth_min_Bps = 12.5e6, inter_bandwidth_max_Bps = 125e6;
  // Trunk per direction between two regions; trunk_max_Bps == 0: no trunks.
  double trunk_min_Bps = 25e6, trunk_max_Bps = 250e6;
  // Access link of an ordinary peer (up = down); 0: none.
  double access_Bps = 0;
  // Extra one-way latency per peer, uniform in [0, max] (0: none).
  double extra_latency_max_s = 0;
  // Stragglers: this fraction of the peers (rounded) sits behind an access
  // link of straggler_access_Bps.
  double straggler_fraction = 0;
  double straggler_access_Bps = 12.5e6;
  // Asymmetric links: this fraction of the ordered pairs (rounded, at most
  // kMaxGeneratedOverrides, duplicates dropped) gets, in that direction
  // only, asymmetric_factor times its normal bandwidth.
  double asymmetric_fraction = 0;
  double asymmetric_factor = 0.1;
  // false: ranks fill region 0 first, then region 1, ...  true: ranks are
  // dealt to regions at random (each region still gets peers_per_region).
  // Regions are numbered by their lowest rank either way, as ClusterRegions
  // numbers them.
  bool shuffle_ranks = false;
};

inline constexpr int kMaxGeneratedOverrides = 1 << 20;

// Requires regions >= 1, peers_per_region >= 1, min <= max for every range,
// positive bandwidths.
RegionModel GenerateRegions(const RegionSpec& spec, uint64_t seed);

// The reference scenarios of shared/topologies/continents.md (as emulated by
// perf/wan/scenarios/*.json): "europe", "transatlantic", "transatlantic-6",
// "three-continents", "straggler", and the CI smoke test "two-regions-ci".
// The dense model the planner would measure there: one-way latency = RTT/2
// (0.25 ms inside a region, the trunk's RTT/2 across), 125 MB/s per pair
// inside a region, min(125 MB/s, trunk rate) per pair across a trunk (the
// striped transport fills a trunk from one pair), trunks shared per
// direction at the scenario rate, the straggler's 12.5 MB/s access link as
// its egress, ingress and pair bandwidths.  Regions are numbered by lowest
// rank; names are "<region>/<rank>".  Unknown names: NotFound listing the
// known ones.
absl::StatusOr<Topology> ScenarioTopology(const std::string& name);
std::vector<std::string> ScenarioNames();

// The same network with ranks renumbered at random: new rank k is old rank
// (*perm)[k].  Regions are renumbered by their lowest new rank (trunks
// follow).  `perm` may be null.
Topology ShuffleRanks(const Topology& t, uint64_t seed, std::vector<int32_t>* perm);

// Dense copy of any model (N x N matrices: for small N).  Per-peer and trunk
// vectors are left empty when the model has no such limits.
Topology ToDense(const LinkModel& net);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_TOPOLOGY_GEN_H_
