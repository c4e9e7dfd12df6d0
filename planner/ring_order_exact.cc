// Exact ring order for small groups, by branch and bound over the orders
// that start at rank 0 (fixing the first peer removes rotations; the two
// directions of a ring are different rings when links are asymmetric).
//
// The objective is lexicographic with a tolerance, which is not a total
// order edge by edge, so the search runs twice:
//   1. B* = the highest bottleneck of any ring.  A partial path's
//      bottleneck only falls as edges are added (trunk shares shrink as
//      crossings grow), so it bounds every completion; so does, for each
//      peer still to leave, its best outgoing edge.
//   2. Among rings with bottleneck >= (1 - tolerance) * B*, the lowest
//      latency sum, visiting orders lexicographically and keeping only
//      strict improvements (ties: the smallest order).  Bound: the path so
//      far plus, for every peer still to be entered (rank 0 included), its
//      cheapest incoming edge.
// Sums are accumulated in ring order from rank 0, as ScoreRing does, so the
// result compares bit for bit with a brute force over ScoreRing.
#include <limits>
#include <vector>

#include "planner/ring_order.h"
#include "planner/ring_order_internal.h"

namespace meridian::planner::ring_internal {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class ExactSearch {
 public:
  explicit ExactSearch(const LinkModel& net) : n_(net.size()) {
    const size_t cells = static_cast<size_t>(n_) * n_;
    cap_.assign(cells, 0);
    lat_.assign(cells, 0);
    trunk_.assign(cells, -1);
    best_out_.assign(n_, 0);
    min_in_.assign(n_, kInf);
    TrunkKeys keys(net);
    std::vector<int64_t> known;  // trunk key of each trunk id
    for (int i = 0; i < n_; ++i) {
      for (int j = 0; j < n_; ++j) {
        if (i == j) continue;
        const size_t e = Cell(i, j);
        cap_[e] = EdgeCapacity(net, i, j);
        lat_[e] = net.latency(i, j);
        best_out_[i] = std::max(best_out_[i], cap_[e]);
        min_in_[j] = std::min(min_in_[j], lat_[e]);
        const int64_t key = keys.Key(i, j);
        if (key < 0) continue;
        size_t id = 0;
        while (id < known.size() && known[id] != key) ++id;
        if (id == known.size()) {
          known.push_back(key);
          trunk_cap_.push_back(keys.Capacity(key));
        }
        trunk_[e] = static_cast<int>(id);
      }
    }
    trunk_count_.assign(trunk_cap_.size(), 0);
    visited_.assign(n_, false);
    path_.assign(n_, 0);
  }

  std::vector<int32_t> Run() {
    visited_[0] = true;
    path_[0] = 0;
    best_bottleneck_ = -1;
    MaxBottleneck(0, 1, kInf);
    threshold_ = (1 - kRingBottleneckTolerance) * best_bottleneck_;
    best_latency_ = kInf;
    MinLatency(0, 1, kInf, 0.0);
    return best_order_;
  }

 private:
  size_t Cell(int i, int j) const { return static_cast<size_t>(i) * n_ + j; }

  void Enter(int i, int j) {
    const int t = trunk_[Cell(i, j)];
    if (t >= 0 && trunk_count_[t]++ == 0) used_trunks_.push_back(t);
  }
  // Edges leave in the reverse order they entered, so a trunk whose count
  // drops to zero is the last one that came into use.
  void Leave(int i, int j) {
    const int t = trunk_[Cell(i, j)];
    if (t >= 0 && --trunk_count_[t] == 0) used_trunks_.pop_back();
  }
  double TrunkShareMin() const {
    double m = kInf;
    for (int t : used_trunks_) m = std::min(m, trunk_cap_[t] / trunk_count_[t]);
    return m;
  }
  // Upper bound on the bottleneck of any completion of the current path,
  // whose edges sustain at most `path_cap` before trunk sharing.
  double Bound(double path_cap) const {
    double b = std::min(path_cap, TrunkShareMin());
    for (int v = 0; v < n_; ++v) {
      if (!visited_[v]) b = std::min(b, best_out_[v]);
    }
    return b;
  }

  void MaxBottleneck(int last, int depth, double path_cap) {
    if (depth == n_) {
      Enter(last, 0);
      const double b = std::min({path_cap, cap_[Cell(last, 0)], TrunkShareMin()});
      Leave(last, 0);
      best_bottleneck_ = std::max(best_bottleneck_, b);
      return;
    }
    for (int next = 1; next < n_; ++next) {
      if (visited_[next]) continue;
      const double cap = std::min(path_cap, cap_[Cell(last, next)]);
      Enter(last, next);
      // Bound before marking `next`: it still has to leave.
      const double bound = Bound(cap);
      visited_[next] = true;
      if (bound > best_bottleneck_) MaxBottleneck(next, depth + 1, cap);
      visited_[next] = false;
      Leave(last, next);
    }
  }

  void MinLatency(int last, int depth, double path_cap, double latency) {
    if (depth == n_) {
      Enter(last, 0);
      const double b = std::min({path_cap, cap_[Cell(last, 0)], TrunkShareMin()});
      Leave(last, 0);
      const double total = latency + lat_[Cell(last, 0)];
      if (b >= threshold_ && total < best_latency_) {
        best_latency_ = total;
        best_order_.assign(path_.begin(), path_.end());
      }
      return;
    }
    for (int next = 1; next < n_; ++next) {
      if (visited_[next]) continue;
      const double cap = std::min(path_cap, cap_[Cell(last, next)]);
      const double lat = latency + lat_[Cell(last, next)];
      Enter(last, next);
      bool promising = Bound(cap) >= threshold_;
      visited_[next] = true;
      path_[depth] = next;
      if (promising && best_latency_ < kInf) {
        double lower = lat + min_in_[0];
        for (int v = 0; v < n_; ++v) {
          if (!visited_[v]) lower += min_in_[v];
        }
        // The slack keeps rounding from pruning a ring that a plain sum
        // would find (strictly) better.
        promising = lower <= best_latency_ * (1 + 1e-9);
      }
      if (promising) MinLatency(next, depth + 1, cap, lat);
      visited_[next] = false;
      Leave(last, next);
    }
  }

  const int n_;
  std::vector<double> cap_, lat_;  // n x n, before trunk sharing
  std::vector<int> trunk_;         // n x n trunk id, -1: none
  std::vector<double> trunk_cap_;
  std::vector<int> trunk_count_;
  std::vector<int> used_trunks_;
  std::vector<double> best_out_, min_in_;
  std::vector<bool> visited_;
  std::vector<int32_t> path_;
  double best_bottleneck_ = -1, threshold_ = 0, best_latency_ = kInf;
  std::vector<int32_t> best_order_;
};

}  // namespace

std::vector<int32_t> ExactRingOrder(const LinkModel& net) { return ExactSearch(net).Run(); }

}  // namespace meridian::planner::ring_internal
