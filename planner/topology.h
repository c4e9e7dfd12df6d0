// The planner's view of the network between the peers of one membership
// epoch: per ordered pair, one-way latency and bandwidth (measured by
// probing, refreshed by passive measurement), plus the shared capacities
// that several pairs compete for.  Every rank holds the identical Topology
// for an epoch (the coordinator hands it out), so every rank derives the
// identical plan from it.
//
// Shared capacities: a path i -> j is limited by its own pair bandwidth,
// by i's egress and j's ingress (a NIC carries all of a peer's traffic),
// and, between two regions, by the trunk region(i) -> region(j) that every
// pair between those regions shares (one backbone queue).  0 means "no
// shared limit known".
#ifndef MERIDIAN_PLANNER_TOPOLOGY_H_
#define MERIDIAN_PLANNER_TOPOLOGY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace meridian::planner {

// What the simulator and the cost model ask of a network: implemented
// densely by Topology (measured, small N) and compactly by RegionModel
// (generated, up to tens of thousands of peers, no N x N storage).
class LinkModel {
 public:
  virtual ~LinkModel() = default;
  virtual int size() const = 0;
  virtual double latency(int i, int j) const = 0;    // one-way, seconds
  virtual double bandwidth(int i, int j) const = 0;  // one flow, bytes/s
  virtual double egress(int i) const = 0;   // 0: unlimited
  virtual double ingress(int i) const = 0;  // 0: unlimited
  virtual int region(int i) const = 0;
  virtual int num_regions() const = 0;
  virtual double trunk(int from_region, int to_region) const = 0;  // 0: none
};

struct Topology final : public LinkModel {
  int peers = 0;
  // Row-major peers x peers; entry [i * peers + j] describes the path i -> j.
  // The diagonal is unused (0).
  std::vector<double> latency_s;      // one-way latency: half the RTT
  std::vector<double> bandwidth_Bps;  // bytes per second one flow i -> j gets
  // Per peer: total egress / ingress capacity, bytes per second (0: unknown,
  // treat as unlimited).  Size `peers` or empty.
  std::vector<double> egress_Bps, ingress_Bps;
  // Region of each peer (0..num_regions-1), from ClusterRegions or a
  // scenario; empty: every peer is its own region.
  std::vector<int> region_of;
  // num_regions x num_regions trunk capacities, bytes per second, shared by
  // all pairs from region a to region b (0: unshared).  Empty: none known.
  std::vector<double> trunk_Bps;
  // Display names (addresses), optional.
  std::vector<std::string> names;

  int size() const override { return peers; }
  double latency(int i, int j) const override {
    return latency_s[static_cast<size_t>(i) * peers + j];
  }
  double bandwidth(int i, int j) const override {
    return bandwidth_Bps[static_cast<size_t>(i) * peers + j];
  }
  double egress(int i) const override {
    return egress_Bps.empty() ? 0 : egress_Bps[i];
  }
  double ingress(int i) const override {
    return ingress_Bps.empty() ? 0 : ingress_Bps[i];
  }
  int region(int i) const override { return region_of.empty() ? i : region_of[i]; }
  int num_regions() const override;
  double trunk(int a, int b) const override;

  // Every pair at the same latency and bandwidth, one region.
  static Topology Uniform(int n, double latency_s, double bandwidth_Bps);
};

// A generated network described per region and per peer, without N x N
// storage: latency(i, j) = region_latency[ri][rj] + extra_latency[i] +
// extra_latency[j] (intra-region pairs use region_latency[r][r]);
// bandwidth(i, j) = min(region_bandwidth[ri][rj], access[i], access[j])
// unless an asymmetric override lists the pair.
struct RegionModel final : public LinkModel {
  int peers = 0;
  std::vector<int> region_of;              // per peer
  int regions = 0;
  std::vector<double> region_latency_s;    // regions x regions, one-way
  std::vector<double> region_bandwidth_Bps;  // regions x regions, one flow
  std::vector<double> trunk_Bps;           // regions x regions, 0: none
  std::vector<double> access_Bps;          // per peer (up = down), 0: none
  std::vector<double> extra_latency_s;     // per peer, may be empty
  struct Override {
    int from, to;
    double bandwidth_Bps;
  };
  std::vector<Override> overrides;  // sorted by (from, to): asymmetric links

  int size() const override { return peers; }
  double latency(int i, int j) const override;
  double bandwidth(int i, int j) const override;
  double egress(int i) const override;
  double ingress(int i) const override;
  int region(int i) const override { return region_of[i]; }
  int num_regions() const override { return regions; }
  double trunk(int a, int b) const override;
};

// Checks sizes and values (positive bandwidths, non-negative latencies,
// region ids in range); InvalidArgument naming the first bad entry.
absl::Status ValidateTopology(const Topology& t);

// Groups peers into regions from the latency matrix: peers closer than a
// threshold found at the largest gap in the sorted RTTs (see topology.cc)
// share a region.  Deterministic: regions are numbered by their lowest rank.
std::vector<int> ClusterRegions(const Topology& t);

// Text form, one value per line group, stable across versions (saved
// topologies for `meridian-info --plan`, and the coordinator's handout).
std::string SerializeTopology(const Topology& t);
absl::StatusOr<Topology> ParseTopology(const std::string& text);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_TOPOLOGY_H_
