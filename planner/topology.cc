// Topology and RegionModel accessors, validation and region clustering.
// The text form lives in topology_text.cc.
#include "planner/topology.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace meridian::planner {
namespace {

// 0 means "no limit" for access links and trunks.
double MinLimit(double a, double limit) { return limit > 0 ? std::min(a, limit) : a; }

// Side of a square matrix stored in `entries` values (0 when not square).
int SquareSide(size_t entries) {
  size_t side = static_cast<size_t>(std::llround(std::sqrt(static_cast<double>(entries))));
  return side * side == entries ? static_cast<int>(side) : 0;
}

absl::Status CheckMatrix(const std::vector<double>& m, const char* name, int peers,
                         bool positive_off_diagonal) {
  const size_t want = static_cast<size_t>(peers) * peers;
  if (m.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat(name, " has ", m.size(), " entries, want ",
                                                   want, " (", peers, " x ", peers, ")"));
  }
  for (int i = 0; i < peers; ++i) {
    for (int j = 0; j < peers; ++j) {
      const double v = m[static_cast<size_t>(i) * peers + j];
      const bool need_positive = positive_off_diagonal && i != j;
      if (!std::isfinite(v) || v < 0 || (need_positive && v == 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, "[", i, "][", j, "] is ", v, ": must be finite and ",
                         need_positive ? "> 0" : ">= 0"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCapacities(const std::vector<double>& v, const char* name, size_t want,
                             const char* want_what) {
  if (v.empty()) return absl::OkStatus();
  if (v.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has ", v.size(), " entries, want 0 or ", want, " (", want_what, ")"));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]) || v[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, "[", i, "] is ", v[i], ": must be finite and >= 0 (0: unlimited)"));
    }
  }
  return absl::OkStatus();
}

// Union-find over ranks; the root of a set is always its lowest rank, which
// makes the final numbering a single ascending pass.
class LowestRankSets {
 public:
  explicit LowestRankSets(int n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  int Find(int x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void Join(int a, int b) {
    a = Find(a);
    b = Find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<int> parent_;
};

}  // namespace

int Topology::num_regions() const {
  if (region_of.empty()) return peers;
  int most = -1;
  for (int r : region_of) most = std::max(most, r);
  return most + 1;
}

double Topology::trunk(int a, int b) const {
  if (trunk_Bps.empty()) return 0;
  // The matrix is num_regions() square (ValidateTopology); reading its side
  // from its size keeps this O(1) for callers that loop over region pairs.
  const int regions = SquareSide(trunk_Bps.size());
  if (a < 0 || b < 0 || a >= regions || b >= regions) return 0;
  return trunk_Bps[static_cast<size_t>(a) * regions + b];
}

Topology Topology::Uniform(int n, double latency_s, double bandwidth_Bps) {
  Topology t;
  t.peers = n;
  const size_t cells = static_cast<size_t>(n) * n;
  t.latency_s.assign(cells, latency_s);
  t.bandwidth_Bps.assign(cells, bandwidth_Bps);
  for (int i = 0; i < n; ++i) {
    t.latency_s[static_cast<size_t>(i) * n + i] = 0;
    t.bandwidth_Bps[static_cast<size_t>(i) * n + i] = 0;
  }
  t.region_of.assign(n, 0);
  return t;
}

double RegionModel::latency(int i, int j) const {
  if (i == j) return 0;
  double l = region_latency_s[static_cast<size_t>(region_of[i]) * regions + region_of[j]];
  if (!extra_latency_s.empty()) l += extra_latency_s[i] + extra_latency_s[j];
  return l;
}

double RegionModel::bandwidth(int i, int j) const {
  if (i == j) return 0;
  auto it = std::lower_bound(overrides.begin(), overrides.end(), std::make_pair(i, j),
                             [](const Override& o, const std::pair<int, int>& key) {
                               return std::make_pair(o.from, o.to) < key;
                             });
  if (it != overrides.end() && it->from == i && it->to == j) return it->bandwidth_Bps;
  double bw = region_bandwidth_Bps[static_cast<size_t>(region_of[i]) * regions + region_of[j]];
  return MinLimit(MinLimit(bw, egress(i)), ingress(j));
}

double RegionModel::egress(int i) const { return access_Bps.empty() ? 0 : access_Bps[i]; }
double RegionModel::ingress(int i) const { return access_Bps.empty() ? 0 : access_Bps[i]; }

double RegionModel::trunk(int a, int b) const {
  return trunk_Bps.empty() ? 0 : trunk_Bps[static_cast<size_t>(a) * regions + b];
}

absl::Status ValidateTopology(const Topology& t) {
  if (t.peers < 1) {
    return absl::InvalidArgumentError(absl::StrCat("peers is ", t.peers, ": need at least 1"));
  }
  if (absl::Status s = CheckMatrix(t.latency_s, "latency_s", t.peers, false); !s.ok()) return s;
  if (absl::Status s = CheckMatrix(t.bandwidth_Bps, "bandwidth_Bps", t.peers, true); !s.ok()) {
    return s;
  }
  const size_t peers = static_cast<size_t>(t.peers);
  if (absl::Status s = CheckCapacities(t.egress_Bps, "egress_Bps", peers, "one per peer");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCapacities(t.ingress_Bps, "ingress_Bps", peers, "one per peer");
      !s.ok()) {
    return s;
  }
  if (!t.region_of.empty()) {
    if (t.region_of.size() != peers) {
      return absl::InvalidArgumentError(absl::StrCat(
          "region_of has ", t.region_of.size(), " entries, want 0 or ", peers, " (one per peer)"));
    }
    for (size_t i = 0; i < peers; ++i) {
      if (t.region_of[i] < 0 || t.region_of[i] >= t.peers) {
        return absl::InvalidArgumentError(absl::StrCat("region_of[", i, "] is ", t.region_of[i],
                                                       ": must be in [0, peers)"));
      }
    }
  }
  const size_t regions = static_cast<size_t>(t.num_regions());
  const std::string trunk_want = absl::StrCat(regions, " x ", regions, " regions");
  if (absl::Status s =
          CheckCapacities(t.trunk_Bps, "trunk_Bps", regions * regions, trunk_want.c_str());
      !s.ok()) {
    return s;
  }
  if (!t.names.empty()) {
    if (t.names.size() != peers) {
      return absl::InvalidArgumentError(absl::StrCat("names has ", t.names.size(),
                                                     " entries, want 0 or ", peers));
    }
    for (size_t i = 0; i < peers; ++i) {
      if (t.names[i].find_first_of("\r\n") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("names[", i, "] contains a line break"));
      }
    }
  }
  return absl::OkStatus();
}

// Region clustering rule.  For every unordered pair take the round trip
// latency(i, j) + latency(j, i) and sort these RTTs.  Between consecutive
// sorted values find the largest ratio (a zero followed by a non-zero value
// counts as an infinite ratio; ties go to the smaller threshold).  If that
// ratio is at least kMinGap, pairs at or below the lower value of the gap
// are "near"; regions are the connected components of the "near" graph
// (single linkage).  Otherwise there is no clear near/far split and every
// peer is in region 0.  Regions are numbered by their lowest rank.
//
// Limits: only one level of hierarchy is found (with eu-west, eu-central
// and us-east peers the biggest gap wins, so the two European regions may
// merge or split depending on which gap is larger); a group where every
// peer sits in a different region has no "near" pairs and becomes one
// region unless the inter-region RTTs themselves have a 3x gap; two peers
// are always one region; single linkage can chain regions through a peer
// halfway between them.  Bandwidth is not considered: regions are about
// distance, and shared capacities come with them as trunks.
std::vector<int> ClusterRegions(const Topology& t) {
  constexpr double kMinGap = 3.0;
  const int n = t.peers;
  std::vector<int> region(n, 0);
  if (n < 3) return region;
  std::vector<double> rtts;
  rtts.reserve(static_cast<size_t>(n) * (n - 1) / 2);
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) rtts.push_back(t.latency(i, j) + t.latency(j, i));
  }
  std::sort(rtts.begin(), rtts.end());
  double best_ratio = 0, threshold = 0;
  for (size_t k = 0; k + 1 < rtts.size(); ++k) {
    const double lo = rtts[k], hi = rtts[k + 1];
    double ratio = 1;
    if (lo > 0) {
      ratio = hi / lo;
    } else if (hi > 0) {
      ratio = std::numeric_limits<double>::infinity();
    }
    if (ratio > best_ratio) {
      best_ratio = ratio;
      threshold = lo;
    }
  }
  if (best_ratio < kMinGap) return region;
  LowestRankSets sets(n);
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      if (t.latency(i, j) + t.latency(j, i) <= threshold) sets.Join(i, j);
    }
  }
  // Roots are lowest ranks, so numbering roots in rank order numbers the
  // regions by their lowest rank.
  std::vector<int> id_of_root(n, -1);
  int next_id = 0;
  for (int i = 0; i < n; ++i) {
    const int root = sets.Find(i);
    if (id_of_root[root] < 0) id_of_root[root] = next_id++;
    region[i] = id_of_root[root];
  }
  return region;
}

}  // namespace meridian::planner
