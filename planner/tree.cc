// Tree shape.  Number the nodes 1..n in order ("in-order numbering"): the
// node at p, whose lowest set bit is 2^k, has height k; its children are
// p - 2^(k-1) and the first of p + 2^(k-1), p + 2^(k-2), ... that is <= n;
// the root is the largest power of two <= n.  Leaves are exactly the odd
// numbers, about half the nodes, and every subtree is a contiguous run of
// numbers, so neighbours in the ring order stay close in the tree.
//
// Double binary tree (all-reduce): tree A puts node p at ring position p-1;
// tree B mirrors it (position n-p) when n is even and shifts it by one
// (position p mod n) when n is odd.  Either way the leaves of one tree (odd
// numbers) sit where the other tree has interior nodes, so a rank that
// receives two halves from children in one tree only sends its own half up
// in the other: every rank moves about the same volume, and no rank is
// interior in both (for odd n, position 0 is a leaf in both).
//
// Message order and deadlock freedom.  Steps are emitted in the order of a
// virtual time: chunk c moving up from a node of height h has time c + h;
// moving down from a node of height h, c + 2H + 1 - h (H: the root's
// height).  Every step depends only on steps of smaller time, and each
// peer's messages are in time order at both ends (ties break the same way
// on both: tree, direction, chunk), so the message with the smallest time
// that is not yet delivered can always be posted at both ends.  Interleaving
// the two trees' messages by time also keeps the pipeline full: a rank that
// sends one tree's chunks up and the other tree's chunks down to the same
// peer does not hold the next up-chunk behind a down-chunk that is not
// ready yet.  Staging slots cannot break this: a rank with several children
// bounds each child's receive-reduces in flight to its share of the slots.
#include "planner/tree.h"

#include <algorithm>
#include <cassert>
#include <numeric>
#include <tuple>

#include "planner/ring_blocks.h"

namespace meridian::planner {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

int Log2(int v) {
  int k = 0;
  while ((2 << k) <= v) ++k;
  return k;
}

BufRef In(uint64_t off) { return {BufferId::kInput, off}; }
BufRef Out(uint64_t off) { return {BufferId::kOutput, off}; }
BufRef Scratch(uint64_t off) { return {BufferId::kScratch, off}; }

struct ShapeNode {
  int parent = 0;             // 0: this is the root
  int children[2] = {0, 0};   // 0: none
  int num_children = 0;
  int height = 0;
};

int RootOf(int n) { return 1 << Log2(n); }

ShapeNode ShapeAt(int p, int n) {
  ShapeNode node;
  const int low = p & -p;
  node.height = Log2(low);
  if (low > 1) {
    node.children[node.num_children++] = p - low / 2;
    for (int step = low / 2; step >= 1; step /= 2) {
      if (p + step <= n) {
        node.children[node.num_children++] = p + step;
        break;
      }
    }
  }
  if (p == RootOf(n)) return node;
  // The parent is the nearest ancestor, in the unbounded tree, that is <= n:
  // p hangs under it in place of the missing nodes in between.
  int a = p, a_low = low;
  do {
    a = (a & (2 * a_low)) != 0 ? a - a_low : a + a_low;
    a_low *= 2;
  } while (a > n);
  node.parent = a;
  return node;
}

// Children in the order this node reduces them: lower first, so that the
// second receive-reduce (which waits for the first) never has an earlier
// virtual time than the first.
std::vector<int> ReductionOrder(const ShapeNode& node, int n) {
  std::vector<int> chain(node.children, node.children + node.num_children);
  std::stable_sort(chain.begin(), chain.end(), [n](int a, int b) {
    return ShapeAt(a, n).height < ShapeAt(b, n).height;
  });
  return chain;
}

// Where tree node p sits in the ring order: position = (sign * p + offset)
// mod n.
struct Placement {
  int n, sign, offset;
  int position(int node) const { return Mod(sign * node + offset, n); }
  int node(int position) const {
    const int p = Mod(sign * (position - offset), n);
    return p == 0 ? n : p;
  }
};

enum Phase { kUp = 0, kDown = 1, kClose = 2 };

// Steps collected with a virtual time (see the top of this file) and
// emitted sorted by it.  Deps are given as handles returned by Add.
class TimedSteps {
 public:
  struct Key {
    int64_t time;
    int tree;
    int phase;
    uint64_t chunk;
    int sub;  // local tie-break (never between two messages of one peer)
    bool operator<(const Key& o) const {
      return std::tie(time, tree, phase, chunk, sub) <
             std::tie(o.time, o.tree, o.phase, o.chunk, o.sub);
    }
  };

  int32_t Add(const Key& key, StepKind kind, int peer, BufRef src, BufRef dst, uint64_t count,
              bool finalize = false, int32_t dep0 = -1, int32_t dep1 = -1) {
    Step s;
    s.kind = kind;
    s.peer = peer;
    s.src = src;
    s.dst = dst;
    s.count = count;
    s.finalize = finalize;
    if (dep0 < 0) std::swap(dep0, dep1);
    s.deps[0] = dep0;
    s.deps[1] = dep1;
    keys_.push_back(key);
    steps_.push_back(s);
    return static_cast<int32_t>(steps_.size() - 1);
  }

  void EmitInto(Plan* plan) const {
    std::vector<int32_t> by_time(steps_.size());
    std::iota(by_time.begin(), by_time.end(), 0);
    std::stable_sort(by_time.begin(), by_time.end(),
                     [&](int32_t a, int32_t b) { return keys_[a] < keys_[b]; });
    std::vector<int32_t> index_of(steps_.size());
    for (size_t i = 0; i < by_time.size(); ++i) index_of[by_time[i]] = static_cast<int32_t>(i);
    for (size_t i = 0; i < by_time.size(); ++i) {
      Step s = steps_[by_time[i]];
      for (int32_t& d : s.deps) {
        if (d < 0) continue;
        d = index_of[d];
        assert(d < static_cast<int32_t>(i));
      }
      plan->steps.push_back(s);
    }
  }

 private:
  std::vector<Key> keys_;
  std::vector<Step> steps_;
};

// This rank's view of one tree.
struct TreeView {
  int n;
  Placement place;
  const std::vector<int32_t>* order;
  int me;  // this rank's node
  ShapeNode node;
  int rank_of(int p) const { return (*order)[place.position(p)]; }
  int height_of(int p) const { return ShapeAt(p, n).height; }
  bool root() const { return node.parent == 0; }
};

TreeView ViewTree(const PlanRequest& req, const std::vector<int32_t>& order,
                  const Placement& place) {
  const int me = place.node(PositionOf(order, req.rank));
  return {req.world_size, place, &order, me, ShapeAt(me, req.world_size)};
}

// Receive-reduces in flight per child: an equal share of the staging slots
// when several children feed this rank (0: unbounded, one source is safe).
int WindowFor(int sources) { return sources > 1 ? kStagingSlots / sources : 0; }

// One tree of the double tree: reduce [begin, begin+count) up to the root,
// which finalizes it, then broadcast it down.  Partial sums and results
// live in the output buffer.
void AddAllReduceTree(const PlanRequest& req, const TreeView& t, int tree, uint64_t begin,
                      uint64_t count, int window, TimedSteps* out) {
  const int64_t down_base = 2 * t.height_of(RootOf(t.n)) + 1;
  const std::vector<int> chain = ReductionOrder(t.node, t.n);
  const BufView input{req.in_place ? BufferId::kOutput : BufferId::kInput, 0};
  const Chunks chunks = ChunksFrom(begin, count, req.chunk_elems);
  std::vector<std::vector<int32_t>> reduced(chain.size());  // [chain index][chunk]
  for (size_t c = 0; c < chunks.size(); ++c) {
    const uint64_t off = chunks[c].offset, len = chunks[c].count;
    const int64_t ci = static_cast<int64_t>(c);
    int32_t acc = -1;
    for (size_t k = 0; k < chain.size(); ++k) {
      const bool last = k + 1 == chain.size();
      const int32_t window_dep =
          window > 0 && c >= static_cast<size_t>(window) ? reduced[k][c - window] : -1;
      acc = out->Add({ci + t.height_of(chain[k]), tree, kUp, c, static_cast<int>(k)},
                     StepKind::kRecvReduce, t.rank_of(chain[k]),
                     k == 0 ? input.at(off) : Out(off), Out(off), len,
                     t.root() && last && req.average, acc, window_dep);
      reduced[k].push_back(acc);
    }
    int32_t ready = acc;
    if (!t.root()) {
      const int parent = t.rank_of(t.node.parent);
      const int32_t up = out->Add({ci + t.node.height, tree, kUp, c, 0}, StepKind::kSend, parent,
                                  acc < 0 ? input.at(off) : Out(off), {}, len, false, acc);
      // The final value lands where the partial sum (or, in place, the
      // input) was read from: only after the send up has read it.
      ready = out->Add({ci + down_base - t.height_of(t.node.parent), tree, kDown, c, 0},
                       StepKind::kRecv, parent, {}, Out(off), len, false, up);
    }
    for (int k = 0; k < t.node.num_children; ++k) {
      out->Add({ci + down_base - t.node.height, tree, kDown, c, k}, StepKind::kSend,
               t.rank_of(t.node.children[k]), Out(off), {}, len, false, ready);
    }
  }
}

void AddBroadcastTree(const PlanRequest& req, const TreeView& t, TimedSteps* out) {
  const int64_t top = t.height_of(RootOf(t.n));
  // Each child first sends its parent an empty message, at once: the root,
  // which otherwise only sends, also checks a neighbour's descriptor.
  if (!t.root()) {
    out->Add({-1, 0, kClose, 0, 0}, StepKind::kSend, t.rank_of(t.node.parent), Out(0), {}, 0);
  }
  for (int k = 0; k < t.node.num_children; ++k) {
    out->Add({-1, 0, kClose, 0, k}, StepKind::kRecv, t.rank_of(t.node.children[k]), {}, Out(0), 0);
  }
  if (t.root() && !req.in_place && req.count > 0) {
    out->Add({-2, 0, kClose, 0, 0}, StepKind::kCopy, -1, In(0), Out(0), req.count);
  }
  const Chunks chunks = ChunksFrom(0, req.count, req.chunk_elems);
  for (size_t c = 0; c < chunks.size(); ++c) {
    const uint64_t off = chunks[c].offset, len = chunks[c].count;
    const int64_t ci = static_cast<int64_t>(c);
    int32_t got = -1;
    if (!t.root()) {
      got = out->Add({ci + top - t.height_of(t.node.parent), 0, kDown, c, 0}, StepKind::kRecv,
                     t.rank_of(t.node.parent), {}, Out(off), len);
    }
    // The root sends from its input (the output itself when in place):
    // the copy into its output need not come first.
    const BufRef src = t.root() ? In(off) : Out(off);
    for (int k = 0; k < t.node.num_children; ++k) {
      out->Add({ci + top - t.node.height, 0, kDown, c, k}, StepKind::kSend,
               t.rank_of(t.node.children[k]), src, {}, len, false, got);
    }
  }
}

// Partial sums in scratch: a non-root's output buffer is its input (the
// runtime runs a reduce's non-roots in place) and must stay untouched.
void AddReduceTree(const PlanRequest& req, const TreeView& t, Plan* plan, TimedSteps* out) {
  // Each parent first sends its children an empty message, at once: leaves,
  // which otherwise only send, also check a neighbour's descriptor.
  if (!t.root()) {
    out->Add({-1, 0, kClose, 0, 0}, StepKind::kRecv, t.rank_of(t.node.parent), {}, Out(0), 0);
  }
  for (int k = 0; k < t.node.num_children; ++k) {
    out->Add({-1, 0, kClose, 0, k}, StepKind::kSend, t.rank_of(t.node.children[k]), Out(0), {}, 0);
  }
  const std::vector<int> chain = ReductionOrder(t.node, t.n);
  const int window = WindowFor(t.node.num_children);
  const BufView input{req.in_place ? BufferId::kOutput : BufferId::kInput, 0};
  auto partial = [&](uint64_t off) { return t.root() ? Out(off) : Scratch(off); };
  if (!t.root() && !chain.empty()) plan->scratch_elems = req.count;
  const Chunks chunks = ChunksFrom(0, req.count, req.chunk_elems);
  std::vector<std::vector<int32_t>> reduced(chain.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    const uint64_t off = chunks[c].offset, len = chunks[c].count;
    const int64_t ci = static_cast<int64_t>(c);
    int32_t acc = -1;
    for (size_t k = 0; k < chain.size(); ++k) {
      const bool last = k + 1 == chain.size();
      const int32_t window_dep =
          window > 0 && c >= static_cast<size_t>(window) ? reduced[k][c - window] : -1;
      acc = out->Add({ci + t.height_of(chain[k]), 0, kUp, c, static_cast<int>(k)},
                     StepKind::kRecvReduce, t.rank_of(chain[k]),
                     k == 0 ? input.at(off) : partial(off), partial(off), len,
                     t.root() && last && req.average, acc, window_dep);
      reduced[k].push_back(acc);
    }
    if (!t.root()) {
      out->Add({ci + t.node.height, 0, kUp, c, 0}, StepKind::kSend, t.rank_of(t.node.parent),
               acc < 0 ? input.at(off) : partial(off), {}, len, false, acc);
    }
  }
}

}  // namespace

Plan BuildTreePlan(const PlanRequest& req) {
  assert(req.world_size >= 1 && req.rank >= 0 && req.rank < req.world_size);
  assert(req.chunk_elems >= 1);
  assert(ValidateOrder(req.order, req.world_size).ok());
  const bool tree_collective = req.collective == Collective::kAllReduce ||
                               req.collective == Collective::kBroadcast ||
                               req.collective == Collective::kReduce;
  if (req.world_size == 1 || !tree_collective) return BuildRingPlan(req);
  const int n = req.world_size;
  Plan plan;
  plan.collective = req.collective;
  plan.rank = req.rank;
  plan.world_size = n;
  const std::vector<int32_t> order = OrderOf(req);
  TimedSteps steps;
  if (req.collective == Collective::kAllReduce) {
    const Placement a{n, 1, -1};
    const Placement b = n % 2 == 0 ? Placement{n, -1, n} : Placement{n, 1, 0};
    const TreeView ta = ViewTree(req, order, a), tb = ViewTree(req, order, b);
    const int window = WindowFor(ta.node.num_children + tb.node.num_children);
    const EvenSplit halves{req.count, 2};
    AddAllReduceTree(req, ta, 0, halves.begin(0), halves.size(0), window, &steps);
    AddAllReduceTree(req, tb, 1, halves.begin(1), halves.size(1), window, &steps);
  } else {
    // One tree whose root node sits at the root's position.
    const Placement rooted{n, 1, PositionOf(order, req.root) - RootOf(n)};
    const TreeView t = ViewTree(req, order, rooted);
    if (req.collective == Collective::kBroadcast) {
      AddBroadcastTree(req, t, &steps);
    } else {
      AddReduceTree(req, t, &plan, &steps);
    }
  }
  steps.EmitInto(&plan);
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
