// Seeded region models, rank shuffles and dense copies (see topology_gen.h);
// the reference scenarios are in topology_scenarios.cc.
#include "planner/topology_gen.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <random>
#include <utility>

namespace meridian::planner {
namespace {

// Sampling with a fully specified result: mt19937_64's sequence is fixed
// by the standard, the conversions below are ours.
class Sampler {
 public:
  explicit Sampler(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Unit(); }
  // Uniform in [0, n), n >= 1, without modulo bias.
  uint64_t Below(uint64_t n) {
    const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n);
    uint64_t x;
    do {
      x = engine_();
    } while (x >= limit);
    return x % n;
  }
  // Fisher-Yates (std::shuffle's algorithm is the library's choice).
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[Below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// Relabels region ids so that they are numbered by their lowest rank;
// returns old id -> new id (ids no peer uses come last, in old order).
std::vector<int> NumberByLowestRank(std::vector<int>* region_of, int regions) {
  std::vector<int> new_id(regions, -1);
  int next = 0;
  for (int r : *region_of) {
    if (new_id[r] < 0) new_id[r] = next++;
  }
  for (int& id : new_id) {
    if (id < 0) id = next++;
  }
  for (int& r : *region_of) r = new_id[r];
  return new_id;
}

// m is regions x regions; entry [a][b] moves to [new_id[a]][new_id[b]].
std::vector<double> RelabelSquare(const std::vector<double>& m, const std::vector<int>& new_id) {
  const size_t r = new_id.size();
  std::vector<double> out(m.size());
  for (size_t a = 0; a < r; ++a) {
    for (size_t b = 0; b < r; ++b) out[new_id[a] * r + new_id[b]] = m[a * r + b];
  }
  return out;
}

}  // namespace

RegionModel GenerateRegions(const RegionSpec& spec, uint64_t seed) {
  assert(spec.regions >= 1 && spec.peers_per_region >= 1);
  Sampler rng(seed);
  const int regions = spec.regions;
  const int n = regions * spec.peers_per_region;
  RegionModel m;
  m.peers = n;
  m.regions = regions;
  const size_t cells = static_cast<size_t>(regions) * regions;
  m.region_latency_s.assign(cells, 0);
  m.region_bandwidth_Bps.assign(cells, 0);

  std::vector<double> x(regions), y(regions);
  for (int r = 0; r < regions; ++r) {
    x[r] = rng.Unit();
    y[r] = rng.Unit();
  }
  for (int a = 0; a < regions; ++a) {
    const size_t aa = static_cast<size_t>(a) * regions + a;
    m.region_latency_s[aa] = rng.Uniform(spec.intra_latency_min_s, spec.intra_latency_max_s);
    m.region_bandwidth_Bps[aa] =
        rng.Uniform(spec.intra_bandwidth_min_Bps, spec.intra_bandwidth_max_Bps);
    for (int b = a + 1; b < regions; ++b) {
      const double distance = std::hypot(x[a] - x[b], y[a] - y[b]) / std::sqrt(2.0);
      const double latency = spec.inter_latency_min_s +
                             (spec.inter_latency_max_s - spec.inter_latency_min_s) * distance;
      const double bandwidth =
          rng.Uniform(spec.inter_bandwidth_min_Bps, spec.inter_bandwidth_max_Bps);
      for (auto [i, j] : {std::pair{a, b}, std::pair{b, a}}) {
        m.region_latency_s[static_cast<size_t>(i) * regions + j] = latency;
        m.region_bandwidth_Bps[static_cast<size_t>(i) * regions + j] = bandwidth;
      }
    }
  }
  if (spec.trunk_max_Bps > 0) {
    m.trunk_Bps.assign(cells, 0);
    for (int a = 0; a < regions; ++a) {
      for (int b = 0; b < regions; ++b) {
        if (a != b) {
          m.trunk_Bps[static_cast<size_t>(a) * regions + b] =
              rng.Uniform(spec.trunk_min_Bps, spec.trunk_max_Bps);
        }
      }
    }
  }

  m.region_of.resize(n);
  for (int i = 0; i < n; ++i) m.region_of[i] = i / spec.peers_per_region;
  if (spec.shuffle_ranks) {
    rng.Shuffle(&m.region_of);
    std::vector<int> new_id = NumberByLowestRank(&m.region_of, regions);
    m.region_latency_s = RelabelSquare(m.region_latency_s, new_id);
    m.region_bandwidth_Bps = RelabelSquare(m.region_bandwidth_Bps, new_id);
    if (!m.trunk_Bps.empty()) m.trunk_Bps = RelabelSquare(m.trunk_Bps, new_id);
  }

  const int stragglers =
      static_cast<int>(std::lround(std::clamp(spec.straggler_fraction, 0.0, 1.0) * n));
  if (spec.access_Bps > 0 || stragglers > 0) {
    m.access_Bps.assign(n, spec.access_Bps);
    std::vector<int> ranks(n);
    for (int i = 0; i < n; ++i) ranks[i] = i;
    rng.Shuffle(&ranks);
    for (int k = 0; k < stragglers; ++k) m.access_Bps[ranks[k]] = spec.straggler_access_Bps;
  }
  if (spec.extra_latency_max_s > 0) {
    m.extra_latency_s.resize(n);
    for (double& e : m.extra_latency_s) e = rng.Uniform(0, spec.extra_latency_max_s);
  }

  // Overrides last: their bandwidth is a fraction of what the pair would
  // otherwise get, access links included.
  const double pairs = static_cast<double>(n) * (n - 1);
  const double wanted = std::clamp(spec.asymmetric_fraction, 0.0, 1.0) * pairs;
  const int overrides =
      static_cast<int>(std::min<double>(std::llround(wanted), kMaxGeneratedOverrides));
  std::vector<std::pair<int, int>> slow;
  slow.reserve(overrides);
  for (int k = 0; k < overrides; ++k) {
    const int i = static_cast<int>(rng.Below(n));
    const int j = static_cast<int>(rng.Below(n - 1));
    slow.emplace_back(i, j >= i ? j + 1 : j);
  }
  std::sort(slow.begin(), slow.end());
  slow.erase(std::unique(slow.begin(), slow.end()), slow.end());
  std::vector<RegionModel::Override> list;
  list.reserve(slow.size());
  for (auto [i, j] : slow) list.push_back({i, j, m.bandwidth(i, j) * spec.asymmetric_factor});
  m.overrides = std::move(list);
  return m;
}

Topology ShuffleRanks(const Topology& t, uint64_t seed, std::vector<int32_t>* perm) {
  const int n = t.peers;
  std::vector<int32_t> p(n);
  for (int i = 0; i < n; ++i) p[i] = i;
  Sampler rng(seed);
  rng.Shuffle(&p);

  Topology s;
  s.peers = n;
  s.latency_s.resize(t.latency_s.size());
  s.bandwidth_Bps.resize(t.bandwidth_Bps.size());
  for (int k = 0; k < n; ++k) {
    for (int l = 0; l < n; ++l) {
      const size_t to = static_cast<size_t>(k) * n + l;
      const size_t from = static_cast<size_t>(p[k]) * n + p[l];
      s.latency_s[to] = t.latency_s[from];
      s.bandwidth_Bps[to] = t.bandwidth_Bps[from];
    }
  }
  auto permute = [&](const auto& v) {
    std::decay_t<decltype(v)> out;
    if (v.empty()) return out;
    out.resize(n);
    for (int k = 0; k < n; ++k) out[k] = v[p[k]];
    return out;
  };
  s.egress_Bps = permute(t.egress_Bps);
  s.ingress_Bps = permute(t.ingress_Bps);
  s.names = permute(t.names);
  // Without region_of every peer is its own region (region id == rank):
  // trunks then follow the ranks and region_of stays empty.
  const int regions = t.num_regions();
  std::vector<int> region_of(n);
  for (int k = 0; k < n; ++k) region_of[k] = t.region(p[k]);
  std::vector<int> new_id = NumberByLowestRank(&region_of, regions);
  if (!t.region_of.empty()) s.region_of = std::move(region_of);
  if (!t.trunk_Bps.empty()) s.trunk_Bps = RelabelSquare(t.trunk_Bps, new_id);
  if (perm != nullptr) *perm = std::move(p);
  return s;
}

Topology ToDense(const LinkModel& net) {
  Topology t;
  const int n = net.size();
  t.peers = n;
  const size_t cells = static_cast<size_t>(n) * n;
  t.latency_s.assign(cells, 0);
  t.bandwidth_Bps.assign(cells, 0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      t.latency_s[static_cast<size_t>(i) * n + j] = net.latency(i, j);
      t.bandwidth_Bps[static_cast<size_t>(i) * n + j] = net.bandwidth(i, j);
    }
  }
  bool limited_egress = false, limited_ingress = false;
  t.egress_Bps.resize(n);
  t.ingress_Bps.resize(n);
  t.region_of.resize(n);
  for (int i = 0; i < n; ++i) {
    t.egress_Bps[i] = net.egress(i);
    t.ingress_Bps[i] = net.ingress(i);
    limited_egress |= t.egress_Bps[i] > 0;
    limited_ingress |= t.ingress_Bps[i] > 0;
    t.region_of[i] = net.region(i);
  }
  if (!limited_egress) t.egress_Bps.clear();
  if (!limited_ingress) t.ingress_Bps.clear();
  // Regions no peer is in carry no traffic: the dense copy leaves them out,
  // as Topology::num_regions() counts only regions in use.
  const int regions = t.num_regions();
  bool any_trunk = false;
  t.trunk_Bps.assign(static_cast<size_t>(regions) * regions, 0);
  for (int a = 0; a < regions; ++a) {
    for (int b = 0; b < regions; ++b) {
      const double cap = net.trunk(a, b);
      t.trunk_Bps[static_cast<size_t>(a) * regions + b] = cap;
      any_trunk |= cap > 0;
    }
  }
  if (!any_trunk) t.trunk_Bps.clear();
  return t;
}

}  // namespace meridian::planner
