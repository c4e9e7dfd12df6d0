// Heuristic ring order for groups too big for the exact search.
//
// Construction: a ring that crosses every trunk at most once per direction
// visits each region once, so the regions are ordered first, as a ring of
// their own (see RegionGraph; exact up to kExactRingOrderMaxPeers regions,
// this same heuristic above), and each region is then walked greedily: from
// the current peer to the fastest next one (within the tolerance), the
// nearest among those, the lowest rank among equals.
//
// Local search under the objective of ring_order.h, in two phases so that
// the tolerance never makes the objective cyclic:
//   A. lift the bottleneck: only moves that drop an edge at the bottleneck
//      can lift it, so only those are tried; a move is taken when it raises
//      the bottleneck or keeps it with fewer edges at it;
//   B. with the bottleneck floor fixed at (1 - tolerance) x the result of A,
//      take moves that lower the latency sum.
// Moves: or-opt (move a run of 1-3 peers elsewhere) and 2-opt (reverse a
// run).  Rings above kFullNeighbourhoodMaxPeers only try positions within
// kWindow of the run, and the total work is capped by kMaxEvaluations, so
// the time is bounded whatever the input (the cap, not a clock, so the
// result never depends on machine speed).  Rings of up to kRestartMaxPeers
// then restart the search from a few perturbed copies of the best ring and
// keep the best result.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "planner/ring_evaluator.h"
#include "planner/ring_order.h"
#include "planner/ring_order_internal.h"

namespace meridian::planner::ring_internal {
namespace {

constexpr int kFullNeighbourhoodMaxPeers = 256;
constexpr int kWindow = 48;
constexpr int kMaxRun = 3;
constexpr int kMaxBottleneckEdgesPerRound = 32;
constexpr int kMaxLatencyPasses = 50;
constexpr int64_t kMaxEvaluations = 3'000'000;
// Groups bigger than this are walked in rank order (the greedy walk is
// quadratic); the local search still repairs slow edges.
constexpr size_t kGreedyMaxGroup = 2048;
// Restarts from perturbed rings, for rings of at most kRestartMaxPeers.
constexpr int kRestarts = 8;
constexpr int kRestartMaxPeers = 128;
// Latency improvements smaller than this fraction of the sum are rounding.
constexpr double kLatencyEpsilon = 1e-9;

double Unlimited(double v) { return v > 0 ? v : std::numeric_limits<double>::infinity(); }

// One node per region: what the region tour is optimized over.  Each
// region is represented by its least limited member (largest access link,
// lowest rank among equals), and an edge sustains what one crossing of the
// trunk between the two regions allows, but no more than the slowest
// access link of the whole group: every ring passes through that peer, so
// faster region edges are all equally good and the tour is left free to
// minimise latency among them.
class RegionGraph final : public LinkModel {
 public:
  RegionGraph(const LinkModel& net, const std::vector<std::vector<int32_t>>& groups)
      : net_(net), keys_(net) {
    for (int i = 0; i < net.size(); ++i) {
      slowest_access_ = std::min({slowest_access_, Unlimited(net.egress(i)),
                                  Unlimited(net.ingress(i))});
    }
    for (const std::vector<int32_t>& members : groups) {
      int32_t rep = members[0];
      for (int32_t m : members) {
        const double access = std::min(Unlimited(net.egress(m)), Unlimited(net.ingress(m)));
        const double best = std::min(Unlimited(net.egress(rep)), Unlimited(net.ingress(rep)));
        if (access > best) rep = m;
      }
      reps_.push_back(rep);
    }
  }
  int size() const override { return static_cast<int>(reps_.size()); }
  double latency(int a, int b) const override {
    return a == b ? 0 : net_.latency(reps_[a], reps_[b]);
  }
  double bandwidth(int a, int b) const override {
    if (a == b) return 0;
    double c = EdgeCapacity(net_, reps_[a], reps_[b]);
    if (int64_t key = keys_.Key(reps_[a], reps_[b]); key >= 0) c = std::min(c, keys_.Capacity(key));
    return std::min(c, slowest_access_);
  }
  double egress(int) const override { return 0; }
  double ingress(int) const override { return 0; }
  int region(int a) const override { return a; }
  int num_regions() const override { return size(); }
  double trunk(int, int) const override { return 0; }

 private:
  const LinkModel& net_;
  TrunkKeys keys_;
  std::vector<int32_t> reps_;
  double slowest_access_ = std::numeric_limits<double>::infinity();
};

// Walks the groups in order, each completely, greedily (see the top).
std::vector<int32_t> GreedyWalk(const LinkModel& net,
                                const std::vector<std::vector<int32_t>>& groups) {
  TrunkKeys keys(net);
  std::vector<int32_t> ring;
  ring.reserve(net.size());
  for (const std::vector<int32_t>& group : groups) {
    std::vector<int32_t> left = group;  // ascending ranks
    if (ring.empty()) {  // the first group holds rank 0: start there
      ring.push_back(left[0]);
      left.erase(left.begin());
    }
    if (left.size() > kGreedyMaxGroup) {
      ring.insert(ring.end(), left.begin(), left.end());
      continue;
    }
    while (!left.empty()) {
      const int32_t from = ring.back();
      std::vector<double> cap(left.size());
      double best_cap = 0;
      for (size_t k = 0; k < left.size(); ++k) {
        cap[k] = EdgeCapacity(net, from, left[k]);
        if (int64_t key = keys.Key(from, left[k]); key >= 0) {
          cap[k] = std::min(cap[k], keys.Capacity(key));
        }
        best_cap = std::max(best_cap, cap[k]);
      }
      size_t pick = left.size();
      double pick_latency = 0;
      for (size_t k = 0; k < left.size(); ++k) {
        if (cap[k] < (1 - kRingBottleneckTolerance) * best_cap) continue;
        const double l = net.latency(from, left[k]);
        if (pick == left.size() || l < pick_latency) {
          pick = k;
          pick_latency = l;
        }
      }
      ring.push_back(left[pick]);
      left.erase(left.begin() + pick);
    }
  }
  return ring;
}

std::vector<int32_t> Construct(const LinkModel& net) {
  const int n = net.size();
  // Regions numbered by first appearance in rank order: rank 0's is first.
  std::vector<std::vector<int32_t>> groups;
  std::map<int, size_t> group_of;  // region id -> index in `groups`
  for (int i = 0; i < n; ++i) {
    auto [it, added] = group_of.try_emplace(net.region(i), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  if (groups.size() == 1 || static_cast<int>(groups.size()) == n) {
    std::vector<int32_t> all(n);
    for (int i = 0; i < n; ++i) all[i] = i;
    return GreedyWalk(net, {all});
  }
  const std::vector<int32_t> tour = OptimizeRingOrder(RegionGraph(net, groups));
  std::vector<std::vector<int32_t>> ordered;
  for (int32_t g : tour) ordered.push_back(groups[g]);
  return GreedyWalk(net, ordered);
}

// The best of several rings under the objective of ring_order.h (the
// first among equals).
size_t Best(const LinkModel& net, const std::vector<std::vector<int32_t>>& rings) {
  std::vector<RingScore> scores;
  double top = 0;
  for (const std::vector<int32_t>& ring : rings) {
    scores.push_back(ScoreRing(net, ring));
    top = std::max(top, scores.back().bottleneck_Bps);
  }
  size_t best = rings.size();
  for (size_t k = 0; k < rings.size(); ++k) {
    if (scores[k].bottleneck_Bps < (1 - kRingBottleneckTolerance) * top) continue;
    if (best == rings.size() || scores[k].latency_sum_s < scores[best].latency_sum_s) best = k;
  }
  return best;
}

class LocalSearch {
 public:
  // `evaluations` counts the candidate moves scored, shared by restarts.
  LocalSearch(const LinkModel& net, std::vector<int32_t> ring, int64_t* evaluations)
      : net_(net),
        n_(static_cast<int>(ring.size())),
        ring_(std::move(ring)),
        eval_(net),
        evaluations_(*evaluations) {
    eval_.Reset(ring_);
  }

  std::vector<int32_t> Run() {
    if (n_ < 4) return ring_;
    LiftBottleneck();
    floor_ = (1 - kRingBottleneckTolerance) * eval_.Current().rate;
    for (int pass = 0; pass < kMaxLatencyPasses && !OutOfBudget(); ++pass) {
      if (!LatencyPass()) break;
    }
    return ring_;
  }

 private:
  // Moves.  or-opt: the run at positions i .. i+len-1 moves to between the
  // positions i+q and i+q+1 (len <= q <= n-2).  2-opt: the run is reversed.
  struct Move {
    bool reverse;
    int i, len, q;
  };

  int32_t At(int64_t pos) const { return ring_[((pos % n_) + n_) % n_]; }

  // Fills removed_ / added_ for `m` (its start taken modulo n).
  void EdgesOf(Move& m) {
    m.i = ((m.i % n_) + n_) % n_;
    removed_.clear();
    added_.clear();
    const int32_t before = At(m.i - 1), first = At(m.i), last = At(m.i + m.len - 1),
                  after = At(m.i + m.len);
    removed_.push_back({before, first});
    removed_.push_back({last, after});
    if (m.reverse) {
      for (int k = 0; k + 1 < m.len; ++k) {
        removed_.push_back({At(m.i + k), At(m.i + k + 1)});
        added_.push_back({At(m.i + k + 1), At(m.i + k)});
      }
      added_.push_back({before, last});
      added_.push_back({first, after});
      return;
    }
    const int32_t c = At(m.i + m.q), d = At(m.i + m.q + 1);
    removed_.push_back({c, d});
    added_.push_back({before, after});
    added_.push_back({c, first});
    added_.push_back({last, d});
  }

  void ApplyMove(const Move& m) {
    eval_.Apply(removed_, added_);
    std::vector<int32_t> next;
    next.reserve(n_);
    if (m.reverse) {
      next = ring_;
      for (int a = 0, b = m.len - 1; a < b; ++a, --b) {
        std::swap(next[(m.i + a) % n_], next[(m.i + b) % n_]);
      }
    } else {
      // The rest of the ring from just after the run, with the run put back
      // after the peer at i+q.
      for (int k = m.len; k < n_; ++k) {
        next.push_back(At(m.i + k));
        if (k == m.q) {
          for (int r = 0; r < m.len; ++r) next.push_back(At(m.i + r));
        }
      }
    }
    ring_ = std::move(next);
  }

  bool OutOfBudget() const { return evaluations_ >= kMaxEvaluations; }

  // Insertion offsets q for an or-opt run of `len`.
  template <typename F>
  void ForEachOffset(int len, F f) const {
    const int lo = len, hi = n_ - 2;
    if (n_ <= kFullNeighbourhoodMaxPeers || hi - lo <= 2 * kWindow) {
      for (int q = lo; q <= hi; ++q) f(q);
      return;
    }
    for (int q = lo; q <= lo + kWindow; ++q) f(q);
    for (int q = hi - kWindow; q <= hi; ++q) f(q);
  }
  int MaxReverse() const {
    return n_ <= kFullNeighbourhoodMaxPeers ? n_ - 2 : std::min(n_ - 2, kWindow);
  }
  // Phase A scores a reversal with every edge inside it: shorter runs only.
  int MaxReverseForBottleneck() const { return std::min(n_ - 2, kWindow); }

  // Phase A: a move must drop one edge at the bottleneck to lift it.
  void LiftBottleneck() {
    while (!OutOfBudget()) {
      const BottleneckScore now = eval_.Current();
      std::vector<int> at;
      for (int k = 0; k < n_ && static_cast<int>(at.size()) < kMaxBottleneckEdgesPerRound; ++k) {
        if (eval_.EffectiveCapacity({At(k), At(k + 1)}) == now.rate) at.push_back(k);
      }
      bool moved = false;
      auto consider = [&](Move m) {
        if (moved || OutOfBudget()) return;
        ++evaluations_;
        EdgesOf(m);
        if (eval_.Try(removed_, added_).BetterThan(now)) {
          ApplyMove(m);
          moved = true;
        }
      };
      for (int k : at) {  // the edge from position k to k+1
        for (int len = 1; len <= kMaxRun && len <= n_ - 2; ++len) {
          ForEachOffset(len, [&](int q) { consider({false, k + 1, len, q}); });
          ForEachOffset(len, [&](int q) { consider({false, k - len + 1, len, q}); });
          ForEachOffset(len, [&](int q) { consider({false, k - q, len, q}); });
        }
        for (int len = 2; len <= MaxReverseForBottleneck(); ++len) {
          consider({true, k + 1, len, 0});
          consider({true, k - len + 1, len, 0});
        }
        if (moved) break;
      }
      if (!moved) return;
    }
  }

  // Phase B: one pass over every run; true when something improved.
  bool LatencyPass() {
    bool improved = false;
    auto consider = [&](Move m) {
      if (OutOfBudget()) return false;
      ++evaluations_;
      EdgesOf(m);
      const double delta = eval_.LatencyDelta(removed_, added_);
      if (!(delta < -kLatencyEpsilon * eval_.latency_sum())) return false;
      if (eval_.Try(removed_, added_).rate < floor_) return false;
      ApplyMove(m);
      return true;
    };
    for (int i = 0; i < n_ && !OutOfBudget(); ++i) {
      bool moved = false;
      for (int len = 1; len <= kMaxRun && len <= n_ - 2 && !moved; ++len) {
        ForEachOffset(len, [&](int q) { moved = moved || consider({false, i, len, q}); });
      }
      if (!moved) moved = ReversalPass(i);
      improved |= moved;
    }
    return improved;
  }

  // 2-opt from position i with the latency change kept as running sums
  // while the run grows (with asymmetric latencies a reversal changes every
  // edge inside the run): O(1) per length, the full check only for a gain.
  bool ReversalPass(int i) {
    const int32_t before = At(i - 1), first = At(i);
    double forward = 0, backward = 0;
    for (int len = 2; len <= MaxReverse() && !OutOfBudget(); ++len) {
      ++evaluations_;
      const int32_t inner = At(i + len - 2), last = At(i + len - 1), after = At(i + len);
      forward += net_.latency(inner, last);
      backward += net_.latency(last, inner);
      const double delta = net_.latency(before, last) + net_.latency(first, after) + backward -
                           net_.latency(before, first) - net_.latency(last, after) - forward;
      if (!(delta < -kLatencyEpsilon * eval_.latency_sum())) continue;
      Move m{true, i, len, 0};
      EdgesOf(m);
      if (eval_.Try(removed_, added_).rate < floor_) continue;
      ApplyMove(m);
      return true;
    }
    return false;
  }

  const LinkModel& net_;
  const int n_;
  std::vector<int32_t> ring_;
  RingEvaluator eval_;
  double floor_ = 0;
  int64_t& evaluations_;
  std::vector<Edge> removed_, added_;
};

}  // namespace

std::vector<int32_t> HeuristicRingOrder(const LinkModel& net) {
  const int n = net.size();
  int64_t evaluations = 0;
  std::vector<std::vector<int32_t>> rings = {LocalSearch(net, Construct(net), &evaluations).Run()};
  // Small rings can afford a few restarts from a perturbed best ring (a
  // "double bridge": cut in four runs A B C D, reconnect as A C B D, which
  // keeps every run's direction); a fixed seed keeps the result
  // reproducible.
  if (n >= 8 && n <= kRestartMaxPeers) {
    std::mt19937_64 rng(0x6d657269646961);
    for (int restart = 0; restart < kRestarts && evaluations < kMaxEvaluations; ++restart) {
      const std::vector<int32_t>& from = rings[Best(net, rings)];
      int cut[3];
      for (int& c : cut) c = 1 + static_cast<int>(rng() % static_cast<uint64_t>(n - 1));
      std::sort(cut, cut + 3);
      if (cut[0] == cut[1] || cut[1] == cut[2]) continue;
      std::vector<int32_t> kicked(from.begin(), from.begin() + cut[0]);
      kicked.insert(kicked.end(), from.begin() + cut[1], from.begin() + cut[2]);
      kicked.insert(kicked.end(), from.begin() + cut[0], from.begin() + cut[1]);
      kicked.insert(kicked.end(), from.begin() + cut[2], from.end());
      rings.push_back(LocalSearch(net, std::move(kicked), &evaluations).Run());
    }
  }
  std::vector<int32_t> ring = rings[Best(net, rings)];
  std::rotate(ring.begin(), std::find(ring.begin(), ring.end(), 0), ring.end());
  return ring;
}

}  // namespace meridian::planner::ring_internal
