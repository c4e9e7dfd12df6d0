// Ring scoring, region groups of a ring, and the choice between the exact
// and the heuristic ring-order search.
#include "planner/ring_order.h"

#include <algorithm>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "planner/ring_order_internal.h"

namespace meridian::planner {

using ring_internal::EdgeCapacity;
using ring_internal::TrunkKeys;

std::string RingScore::Explain() const {
  if (bottleneck_from < 0) {
    return absl::StrFormat("ring without edges; latency sum %.4g ms", latency_sum_s * 1e3);
  }
  return absl::StrFormat("bottleneck %.4g MB/s on %d -> %d (%s); latency sum %.4g ms",
                         bottleneck_Bps / 1e6, bottleneck_from, bottleneck_to, bottleneck_limit,
                         latency_sum_s * 1e3);
}

RingScore ScoreRing(const LinkModel& net, const std::vector<int32_t>& order) {
  RingScore score;
  const size_t n = order.size();
  score.bottleneck_Bps = std::numeric_limits<double>::infinity();
  if (n < 2) {
    score.bottleneck_limit = "no edges";
    return score;
  }
  TrunkKeys trunks(net);
  std::vector<int64_t> keys(n);
  for (size_t k = 0; k < n; ++k) keys[k] = trunks.Key(order[k], order[(k + 1) % n]);
  std::vector<int64_t> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 0; k < n; ++k) {
    const int a = order[k], b = order[(k + 1) % n];
    score.latency_sum_s += net.latency(a, b);
    double rate = EdgeCapacity(net, a, b);
    int64_t crossings = 0;
    double trunk_share = std::numeric_limits<double>::infinity();
    if (keys[k] >= 0) {
      auto range = std::equal_range(sorted.begin(), sorted.end(), keys[k]);
      crossings = range.second - range.first;
      trunk_share = trunks.Capacity(keys[k]) / static_cast<double>(crossings);
      rate = std::min(rate, trunk_share);
    }
    if (rate < score.bottleneck_Bps) {
      score.bottleneck_Bps = rate;
      score.bottleneck_from = a;
      score.bottleneck_to = b;
      if (keys[k] >= 0 && trunk_share == rate) {
        score.bottleneck_limit = absl::StrCat("trunk ", trunks.from_region(keys[k]), "->",
                                              trunks.to_region(keys[k]), " shared by ",
                                              crossings, " ring edge", crossings > 1 ? "s" : "");
      } else if (net.egress(a) == rate) {
        score.bottleneck_limit = absl::StrCat("egress of ", a);
      } else if (net.ingress(b) == rate) {
        score.bottleneck_limit = absl::StrCat("ingress of ", b);
      } else {
        score.bottleneck_limit = "pair bandwidth";
      }
    }
  }
  return score;
}

std::vector<int32_t> OptimizeRingOrder(const LinkModel& net) {
  const int n = net.size();
  if (n <= 2) {
    std::vector<int32_t> order(std::max(n, 0));
    for (int i = 0; i < n; ++i) order[i] = i;
    return order;
  }
  if (n <= kExactRingOrderMaxPeers) return ring_internal::ExactRingOrder(net);
  return ring_internal::HeuristicRingOrder(net);
}

std::vector<std::vector<int32_t>> RegionGroups(const LinkModel& net,
                                               const std::vector<int32_t>& order) {
  std::vector<std::vector<int32_t>> groups;
  const size_t n = order.size();
  if (n == 0) return groups;
  // Step back to where the ring entered order[0]'s region (unless the whole
  // ring is that region).
  size_t start = 0;
  const int first_region = net.region(order[0]);
  for (size_t back = 1; back < n; ++back) {
    if (net.region(order[n - back]) != first_region) break;
    start = n - back;
  }
  if (start != 0 && net.region(order[start - 1]) == first_region) start = 0;  // all one region
  std::map<int, size_t> group_of;  // region id -> index in `groups`
  for (size_t k = 0; k < n; ++k) {
    const int32_t peer = order[(start + k) % n];
    auto [it, added] = group_of.try_emplace(net.region(peer), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(peer);
  }
  return groups;
}

}  // namespace meridian::planner
