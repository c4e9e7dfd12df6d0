// Tree plans over the shape and placements of tree_shape.h.
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
#include "planner/timed_steps.h"
#include "planner/tree_shape.h"

namespace meridian::planner {
namespace {

BufRef In(uint64_t off) { return {BufferId::kInput, off}; }
BufRef Out(uint64_t off) { return {BufferId::kOutput, off}; }
BufRef Scratch(uint64_t off) { return {BufferId::kScratch, off}; }

enum Phase { kUp = 0, kDown = 1, kClose = 2 };

// When a step can happen (see the top of this file); steps are emitted
// sorted by it.
struct StepTime {
  int64_t time;
  int tree;
  int phase;
  uint64_t chunk;
  int sub;  // local tie-break (never between two messages of one peer)
  bool operator<(const StepTime& o) const {
    return std::tie(time, tree, phase, chunk, sub) <
           std::tie(o.time, o.tree, o.phase, o.chunk, o.sub);
  }
};
using Steps = TimedSteps<StepTime>;

// This rank's view of one tree.
struct TreeView {
  int n;
  TreePlacement place;
  const std::vector<int32_t>* order;
  int me;  // this rank's node
  TreeNode node;
  int rank_of(int p) const { return (*order)[place.position(p)]; }
  int height_of(int p) const { return TreeNodeAt(p, n).height; }
  bool root() const { return node.parent == 0; }
};

TreeView ViewTree(const PlanRequest& req, const std::vector<int32_t>& order,
                  const TreePlacement& place) {
  const int me = place.node(PositionOf(order, req.rank));
  return {req.world_size, place, &order, me, TreeNodeAt(me, req.world_size)};
}

// Receive-reduces in flight per child: an equal share of the staging slots
// when several children feed this rank (0: unbounded, one source is safe).
int WindowFor(int sources) { return sources > 1 ? kStagingSlots / sources : 0; }

// One tree of the double tree: reduce [begin, begin+count) up to the root,
// which finalizes it, then broadcast it down.  Partial sums and results
// live in the output buffer.
void AddAllReduceTree(const PlanRequest& req, const TreeView& t, int tree, uint64_t begin,
                      uint64_t count, int window, Steps* out) {
  const int64_t down_base = 2 * t.height_of(TreeRoot(t.n)) + 1;
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

void AddBroadcastTree(const PlanRequest& req, const TreeView& t, Steps* out) {
  const int64_t top = t.height_of(TreeRoot(t.n));
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
void AddReduceTree(const PlanRequest& req, const TreeView& t, Plan* plan, Steps* out) {
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
  Steps steps;
  if (req.collective == Collective::kAllReduce) {
    const TreeView ta = ViewTree(req, order, TreePlacement::First(n));
    const TreeView tb = ViewTree(req, order, TreePlacement::Second(n));
    const int window = WindowFor(ta.node.num_children + tb.node.num_children);
    const EvenSplit halves{req.count, 2};
    AddAllReduceTree(req, ta, 0, halves.begin(0), halves.size(0), window, &steps);
    AddAllReduceTree(req, tb, 1, halves.begin(1), halves.size(1), window, &steps);
  } else {
    // One tree whose root node sits at the root's position.
    const TreeView t =
        ViewTree(req, order, TreePlacement::RootedAt(n, PositionOf(order, req.root)));
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
