#include "planner/passive_estimate.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "planner/probe.h"

namespace meridian::planner {

namespace {

bool Positive(double v) { return std::isfinite(v) && v > 0; }

// Flows seen through one shared resource (a NIC direction or a trunk).
struct Load {
  double sum = 0;
  int flows = 0;
  void Add(double rate) {
    sum += rate;
    ++flows;
  }
  // Whether a flow at `rate` through this resource of `capacity` got what
  // sharing it leaves: the resource carried at least capacity / factor in
  // all, and the flow at least its equal part of that.
  bool Explains(double rate, double capacity, double factor) const {
    if (!Positive(capacity) || flows < 2) return false;
    return sum >= capacity / factor && rate >= capacity / (flows * factor);
  }
};

}  // namespace

PassiveUpdate ApplyPassiveRates(const Topology& planned,
                                const std::vector<LinkTraffic>& traffic,
                                const PassiveConfig& config) {
  PassiveUpdate out;
  out.topology = planned;
  const int n = planned.peers;
  if (n < 2 || traffic.size() != static_cast<size_t>(n) * n ||
      planned.bandwidth_Bps.size() != static_cast<size_t>(n) * n ||
      !(config.factor > 0)) {
    return out;
  }
  const double factor = std::max(config.factor, 1.0);
  const int regions = planned.num_regions();
  auto trunk_index = [&](int i, int j) {
    return static_cast<size_t>(planned.region(i)) * regions + planned.region(j);
  };
  auto crosses_trunk = [&](int i, int j) {
    return planned.region(i) != planned.region(j) &&
           Positive(planned.trunk(planned.region(i), planned.region(j)));
  };

  // Rates of the pairs that carried enough (-1: none), [from * n + to] like
  // the topology, and the load on every shared resource.
  std::vector<double> rate(static_cast<size_t>(n) * n, -1);
  std::vector<Load> out_of(n), into(n), trunk(static_cast<size_t>(regions) * regions);
  for (int from = 0; from < n; ++from) {
    for (int to = 0; to < n; ++to) {
      if (from == to) continue;
      const LinkTraffic& t = traffic[static_cast<size_t>(to) * n + from];
      if (!std::isfinite(t.bytes) || !(t.bytes >= config.min_bytes) || !Positive(t.seconds) ||
          !Positive(planned.bandwidth(from, to))) {
        continue;
      }
      const double r = t.bytes / t.seconds;
      if (!Positive(r)) continue;
      rate[static_cast<size_t>(from) * n + to] = r;
      ++out.sampled;
      out_of[from].Add(r);
      into[to].Add(r);
      if (crosses_trunk(from, to)) trunk[trunk_index(from, to)].Add(r);
    }
  }

  // Slow pairs that sharing does not explain take their passive rate.
  std::vector<int> drifted_across(trunk.size(), 0);
  for (int from = 0; from < n; ++from) {
    for (int to = 0; to < n; ++to) {
      const double r = rate[static_cast<size_t>(from) * n + to];
      if (r < 0) continue;
      const double bw = planned.bandwidth(from, to);
      if (!(r < bw / factor)) continue;
      const bool shared =
          out_of[from].Explains(r, planned.egress(from), factor) ||
          into[to].Explains(r, planned.ingress(to), factor) ||
          (crosses_trunk(from, to) &&
           trunk[trunk_index(from, to)].Explains(
               r, planned.trunk(planned.region(from), planned.region(to)), factor));
      if (shared) {
        ++out.shared;
        continue;
      }
      DriftedLink d;
      d.from = from;
      d.to = to;
      d.bytes = traffic[static_cast<size_t>(to) * n + from].bytes;
      d.passive_Bps = r;
      d.planned_Bps = bw;
      out.drifted.push_back(d);
      out.topology.bandwidth_Bps[static_cast<size_t>(from) * n + to] = r;
      if (crosses_trunk(from, to)) ++drifted_across[trunk_index(from, to)];
    }
  }
  if (out.drifted.empty()) return out;

  // A trunk all of whose sampled flows (two or more) drifted is what they
  // share: it carried their sum at most.  (A trunk matrix that is not
  // num_regions() square has no trunk to lower: trunk() reads it as none.)
  const bool trunks = out.topology.trunk_Bps.size() == trunk.size();
  for (int a = 0; trunks && a < regions; ++a) {
    for (int b = 0; b < regions; ++b) {
      const size_t k = static_cast<size_t>(a) * regions + b;
      const Load& load = trunk[k];
      if (a == b || load.flows < 2 || drifted_across[k] != load.flows ||
          !(load.sum < planned.trunk(a, b) / factor)) {
        continue;
      }
      out.topology.trunk_Bps[k] = load.sum;
      out.lowered_trunks.emplace_back(a, b);
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          if (i == j || planned.region(i) != a || planned.region(j) != b) continue;
          double& bw = out.topology.bandwidth_Bps[static_cast<size_t>(i) * n + j];
          bw = std::min(bw, load.sum);
        }
      }
    }
  }
  SetAccessLimits(&out.topology);
  return out;
}

int AdoptIntoSamples(const PassiveUpdate& update, std::vector<PairSample>* samples) {
  const Topology& t = update.topology;
  int written = 0;
  for (const DriftedLink& d : update.drifted) {
    if (d.from < 0 || d.to < 0 || d.from >= t.peers || d.to >= t.peers ||
        t.region(d.from) != t.region(d.to)) {
      continue;
    }
    const int a = std::min(d.from, d.to), b = std::max(d.from, d.to);
    for (PairSample& s : *samples) {
      if (s.a != a || s.b != b) continue;
      (d.from == a ? s.a_to_b_Bps : s.b_to_a_Bps) = t.bandwidth(d.from, d.to);
      ++written;
      break;
    }
  }
  return written;
}

}  // namespace meridian::planner
