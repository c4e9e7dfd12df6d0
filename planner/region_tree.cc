// All-reduce over an arbitrary rooted tree, and the region tree that makes
// one cheap across regions.
//
// Message order and deadlock freedom.  As in tree.cc, steps are emitted in
// the order of a virtual time, generalised to trees of any shape and depth.
// With height(v) the longest path from v down to a leaf, depth(v) the path
// length from the root and H the root's height:
//   - chunk c moving up from v (v's send, its parent's receive-reduce) has
//     time c + height(v);
//   - chunk c moving down from v to its children has time c + H + 1 +
//     depth(v).
// Every step depends only on steps of smaller time (or of equal time and an
// earlier place in the tie-break): a node's send up waits for its children,
// whose heights are smaller; its receive-reduces are chained in order of the
// children's heights; a node receives chunk c from its parent (time
// c + H + depth(v)) only after sending it up (time c + height(v) <=
// c + H - depth(v) < c + H + depth(v)), because the result overwrites what
// that send read; and it forwards down after receiving.  Both ends of a
// link derive a message's time from the same node, and in a tree each
// direction of a link carries one phase only (child to parent: up, parent
// to child: down), so each side lists a link's messages in chunk order and
// the two ends always agree.  The undelivered message with the smallest
// time can then always be posted at both ends, so the plan cannot deadlock.
//
// Staging slots.  The up phase cannot starve for slots (a receive-reduce
// only waits for data whose production needs nothing from this rank), but
// without a bound the first child in the chain would fill all of them with
// later chunks while the other children wait; each child therefore gets a
// window of in-flight receive-reduces, its share of the executor's slots
// (at least one).
#include "planner/region_tree.h"

#include <algorithm>
#include <cassert>
#include <numeric>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "planner/ring_blocks.h"
#include "planner/timed_steps.h"

namespace meridian::planner {
namespace {

BufRef Out(uint64_t off) { return {BufferId::kOutput, off}; }

// What every rank derives from parent[]: children, depths and heights.
struct TreeShape {
  int root = -1;
  std::vector<std::vector<int32_t>> children;  // ascending rank
  std::vector<int> depth;
  std::vector<int> height;
};

TreeShape ShapeOf(const std::vector<int32_t>& parent) {
  const int n = static_cast<int>(parent.size());
  TreeShape shape;
  shape.children.resize(n);
  shape.depth.assign(n, 0);
  shape.height.assign(n, 0);
  for (int v = 0; v < n; ++v) {
    if (parent[v] < 0) {
      shape.root = v;
    } else {
      shape.children[parent[v]].push_back(v);
    }
  }
  // Breadth-first from the root: parents before children, so depths can be
  // filled going forward and heights going backward.
  std::vector<int32_t> bfs = {shape.root};
  bfs.reserve(n);
  for (size_t i = 0; i < bfs.size(); ++i) {
    for (int32_t child : shape.children[bfs[i]]) {
      shape.depth[child] = shape.depth[bfs[i]] + 1;
      bfs.push_back(child);
    }
  }
  for (size_t i = bfs.size(); i-- > 1;) {
    const int v = bfs[i];
    shape.height[parent[v]] = std::max(shape.height[parent[v]], shape.height[v] + 1);
  }
  return shape;
}

enum Phase { kUp = 0, kDown = 1 };

// When a step can happen (see the top of this file); steps are emitted
// sorted by it.
struct StepTime {
  int64_t time;
  int phase;
  uint64_t chunk;
  int sub;  // tie-break inside one rank (never between two messages of a link)
  bool operator<(const StepTime& o) const {
    return std::tie(time, phase, chunk, sub) < std::tie(o.time, o.phase, o.chunk, o.sub);
  }
};
using Steps = TimedSteps<StepTime>;

// Children in the order this rank reduces them: lower subtrees first, so
// the chain of receive-reduces never goes back in virtual time, and the
// children whose sums come first (shallow subtrees) are not kept waiting
// behind deep ones.
std::vector<int32_t> ReductionOrder(const TreeShape& shape, int rank) {
  std::vector<int32_t> chain = shape.children[rank];
  std::stable_sort(chain.begin(), chain.end(), [&shape](int32_t a, int32_t b) {
    return shape.height[a] < shape.height[b];
  });
  return chain;
}

// Receive-reduces in flight per child: a share of the staging slots when
// several children feed this rank (0: unbounded, one source cannot hog).
int WindowFor(size_t children) {
  return children > 1 ? std::max(1, kStagingSlots / static_cast<int>(children)) : 0;
}

// Partial sums and results live in the output buffer at the elements' own
// offsets; the contribution is read from the input (the output in place).
void AddAllReduce(const PlanRequest& req, const std::vector<int32_t>& parent,
                  const TreeShape& shape, Steps* out) {
  const int me = req.rank;
  const bool root = parent[me] < 0;
  const int64_t down_base = shape.height[shape.root] + 1;
  const std::vector<int32_t> chain = ReductionOrder(shape, me);
  const int window = WindowFor(chain.size());
  const BufView input{req.in_place ? BufferId::kOutput : BufferId::kInput, 0};
  const Chunks chunks = ChunksFrom(0, req.count, req.chunk_elems);
  std::vector<std::vector<int32_t>> reduced(chain.size());  // [chain index][chunk]
  for (size_t c = 0; c < chunks.size(); ++c) {
    const uint64_t off = chunks[c].offset, len = chunks[c].count;
    const int64_t ci = static_cast<int64_t>(c);
    int32_t acc = -1;
    for (size_t k = 0; k < chain.size(); ++k) {
      const bool last = k + 1 == chain.size();
      const int32_t window_dep =
          window > 0 && c >= static_cast<size_t>(window) ? reduced[k][c - window] : -1;
      acc = out->Add({ci + shape.height[chain[k]], kUp, c, static_cast<int>(k)},
                     StepKind::kRecvReduce, chain[k], k == 0 ? input.at(off) : Out(off), Out(off),
                     len, root && last && req.average, acc, window_dep);
      reduced[k].push_back(acc);
    }
    int32_t ready = acc;
    if (!root) {
      const int32_t up = out->Add({ci + shape.height[me], kUp, c, 0}, StepKind::kSend, parent[me],
                                  acc < 0 ? input.at(off) : Out(off), {}, len, false, acc);
      // The result lands where the send up read from (the partial sum, or
      // in place the input): only once that send is done.
      ready = out->Add({ci + down_base + shape.depth[parent[me]], kDown, c, 0}, StepKind::kRecv,
                       parent[me], {}, Out(off), len, false, up);
    }
    const std::vector<int32_t>& children = shape.children[me];
    for (size_t k = 0; k < children.size(); ++k) {
      out->Add({ci + down_base + shape.depth[me], kDown, c, static_cast<int>(k)}, StepKind::kSend,
               children[k], Out(off), {}, len, false, ready);
    }
  }
}

}  // namespace

absl::Status ValidateParents(const std::vector<int32_t>& parent) {
  const int n = static_cast<int>(parent.size());
  int root = -1;
  for (int v = 0; v < n; ++v) {
    const int32_t p = parent[v];
    if (p == -1) {
      if (root >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("parent: ranks ", root, " and ", v, " are both roots"));
      }
      root = v;
    } else if (p < -1 || p >= n || p == v) {
      return absl::InvalidArgumentError(
          absl::StrCat("parent[", v, "] = ", p, " is not another rank in 0..", n - 1, " or -1"));
    }
  }
  if (root < 0) return absl::InvalidArgumentError("parent: no root (no entry is -1)");
  // Walk up from each rank until reaching a rank known to lead to the root;
  // meeting a rank of the current walk again is a cycle.
  enum : uint8_t { kUnknown, kOnWalk, kReachesRoot };
  std::vector<uint8_t> state(n, kUnknown);
  state[root] = kReachesRoot;
  std::vector<int32_t> walk;
  for (int start = 0; start < n; ++start) {
    walk.clear();
    int v = start;
    while (state[v] == kUnknown) {
      state[v] = kOnWalk;
      walk.push_back(v);
      v = parent[v];
    }
    if (state[v] == kOnWalk) {
      return absl::InvalidArgumentError(
          absl::StrCat("parent: rank ", v, " is on a cycle that does not reach the root"));
    }
    for (int32_t w : walk) state[w] = kReachesRoot;
  }
  return absl::OkStatus();
}

std::vector<int32_t> RegionTreeParents(const std::vector<std::vector<int32_t>>& groups) {
  size_t n = 0;
  for (const std::vector<int32_t>& g : groups) {
    if (g.empty()) return {};
    n += g.size();
  }
  std::vector<int32_t> parent(n, -1);
  std::vector<bool> seen(n, false);
  for (const std::vector<int32_t>& g : groups) {
    for (int32_t r : g) {
      if (r < 0 || static_cast<size_t>(r) >= n || seen[r]) return {};
      seen[r] = true;
    }
  }
  // Heap layouts: a binary tree without gaps, parents before children.
  for (size_t j = 0; j < groups.size(); ++j) {
    const std::vector<int32_t>& g = groups[j];
    if (j > 0) parent[g[0]] = groups[(j - 1) / 2][0];
    for (size_t i = 1; i < g.size(); ++i) parent[g[i]] = g[(i - 1) / 2];
  }
  return parent;
}

Plan BuildTreePlanFromParents(const PlanRequest& req, const std::vector<int32_t>& parent) {
  assert(req.world_size >= 1 && req.rank >= 0 && req.rank < req.world_size);
  assert(req.chunk_elems >= 1);
  assert(static_cast<int>(parent.size()) == req.world_size);
  assert(ValidateParents(parent).ok());
  if (req.world_size == 1 || req.collective != Collective::kAllReduce) return BuildRingPlan(req);
  Plan plan;
  plan.collective = req.collective;
  plan.rank = req.rank;
  plan.world_size = req.world_size;
  Steps steps;
  AddAllReduce(req, parent, ShapeOf(parent), &steps);
  steps.EmitInto(&plan);
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
