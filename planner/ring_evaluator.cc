#include "planner/ring_evaluator.h"

#include <algorithm>
#include <limits>

namespace meridian::planner::ring_internal {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

void RingEvaluator::Reset(const std::vector<int32_t>& ring) {
  caps_.clear();
  crossings_.clear();
  shares_.clear();
  latency_sum_ = 0;
  std::vector<Edge> edges;
  const size_t n = ring.size();
  for (size_t k = 0; k < n && n > 1; ++k) edges.push_back({ring[k], ring[(k + 1) % n]});
  Apply({}, edges);
}

int64_t RingEvaluator::CrossingsOf(int64_t key) const {
  auto it = crossings_.find(key);
  return it == crossings_.end() ? 0 : it->second;
}

void RingEvaluator::TrunkDeltas(const std::vector<Edge>& removed,
                                const std::vector<Edge>& added) const {
  deltas_.clear();
  for (const Edge& e : removed) {
    if (int64_t key = keys_.Key(e.from, e.to); key >= 0) deltas_.push_back({key, -1});
  }
  for (const Edge& e : added) {
    if (int64_t key = keys_.Key(e.from, e.to); key >= 0) deltas_.push_back({key, +1});
  }
  std::sort(deltas_.begin(), deltas_.end());
  size_t out = 0;
  for (size_t k = 0; k < deltas_.size();) {
    int64_t key = deltas_[k].first;
    int sum = 0;
    for (; k < deltas_.size() && deltas_[k].first == key; ++k) sum += deltas_[k].second;
    if (sum != 0) deltas_[out++] = {key, sum};
  }
  deltas_.resize(out);
}

BottleneckScore RingEvaluator::Current() const {
  double a = caps_.empty() ? kInf : caps_.begin()->first;
  int64_t at_a = caps_.empty() ? 0 : caps_.begin()->second;
  double t = shares_.empty() ? kInf : shares_.begin()->first;
  int64_t at_t = shares_.empty() ? 0 : shares_.begin()->second.edges;
  BottleneckScore s;
  s.rate = std::min(a, t);
  s.edges_at_rate = (a == s.rate ? at_a : 0) + (t == s.rate ? at_t : 0);
  return s;
}

BottleneckScore RingEvaluator::Try(const std::vector<Edge>& removed,
                                   const std::vector<Edge>& added) const {
  // Capacities before trunk sharing.
  removed_caps_.clear();
  for (const Edge& e : removed) removed_caps_.push_back(EdgeCapacity(net_, e.from, e.to));
  std::sort(removed_caps_.begin(), removed_caps_.end());
  double min_a = kInf;
  int64_t at_a = 0;
  size_t skip = 0;
  for (const auto& [cap, count] : caps_) {
    int64_t gone = 0;
    while (skip < removed_caps_.size() && removed_caps_[skip] < cap) ++skip;
    while (skip < removed_caps_.size() && removed_caps_[skip] == cap) {
      ++gone;
      ++skip;
    }
    if (count > gone) {
      min_a = cap;
      at_a = count - gone;
      break;
    }
  }
  for (const Edge& e : added) {
    const double cap = EdgeCapacity(net_, e.from, e.to);
    if (cap < min_a) {
      min_a = cap;
      at_a = 1;
    } else if (cap == min_a) {
      ++at_a;
    }
  }

  // Trunk shares: the trunks the move touches leave the multiset with their
  // old share and come back with the new one.
  TrunkDeltas(removed, added);
  gone_shares_.clear();
  new_shares_.clear();
  for (const auto& [key, delta] : deltas_) {
    const int64_t before = CrossingsOf(key), after = before + delta;
    const double cap = keys_.Capacity(key);
    if (before > 0) gone_shares_.push_back({cap / before, before});
    if (after > 0) new_shares_.push_back({cap / after, after});
  }
  std::sort(gone_shares_.begin(), gone_shares_.end());
  double min_t = kInf;
  int64_t at_t = 0;
  skip = 0;
  for (const auto& [share, terms] : shares_) {
    int64_t trunks_gone = 0, edges_gone = 0;
    while (skip < gone_shares_.size() && gone_shares_[skip].first < share) ++skip;
    while (skip < gone_shares_.size() && gone_shares_[skip].first == share) {
      ++trunks_gone;
      edges_gone += gone_shares_[skip].second;
      ++skip;
    }
    if (terms.trunks > trunks_gone) {
      min_t = share;
      at_t = terms.edges - edges_gone;
      break;
    }
  }
  for (const auto& [share, edges] : new_shares_) {
    if (share < min_t) {
      min_t = share;
      at_t = edges;
    } else if (share == min_t) {
      at_t += edges;
    }
  }

  BottleneckScore s;
  s.rate = std::min(min_a, min_t);
  // An edge limited by its own capacity and its trunk share at once counts
  // twice: only a tie-breaker, so exactness is not worth the bookkeeping.
  s.edges_at_rate = (min_a == s.rate ? at_a : 0) + (min_t == s.rate ? at_t : 0);
  return s;
}

double RingEvaluator::LatencyDelta(const std::vector<Edge>& removed,
                                   const std::vector<Edge>& added) const {
  double delta = 0;
  for (const Edge& e : added) delta += net_.latency(e.from, e.to);
  for (const Edge& e : removed) delta -= net_.latency(e.from, e.to);
  return delta;
}

void RingEvaluator::AddTerm(double share, int64_t edges, int sign) {
  Terms& t = shares_[share];
  t.trunks += sign;
  t.edges += sign * edges;
  if (t.trunks == 0) shares_.erase(share);
}

void RingEvaluator::Apply(const std::vector<Edge>& removed, const std::vector<Edge>& added) {
  TrunkDeltas(removed, added);
  for (const auto& [key, delta] : deltas_) {
    const int64_t before = CrossingsOf(key), after = before + delta;
    const double cap = keys_.Capacity(key);
    if (before > 0) AddTerm(cap / before, before, -1);
    if (after > 0) {
      AddTerm(cap / after, after, +1);
      crossings_[key] = after;
    } else {
      crossings_.erase(key);
    }
  }
  for (const Edge& e : removed) {
    auto it = caps_.find(EdgeCapacity(net_, e.from, e.to));
    if (--it->second == 0) caps_.erase(it);
    latency_sum_ -= net_.latency(e.from, e.to);
  }
  for (const Edge& e : added) {
    ++caps_[EdgeCapacity(net_, e.from, e.to)];
    latency_sum_ += net_.latency(e.from, e.to);
  }
}

double RingEvaluator::EffectiveCapacity(Edge e) const {
  double c = EdgeCapacity(net_, e.from, e.to);
  if (int64_t key = keys_.Key(e.from, e.to); key >= 0) {
    c = std::min(c, keys_.Capacity(key) / static_cast<double>(CrossingsOf(key)));
  }
  return c;
}

}  // namespace meridian::planner::ring_internal
