// A plan the simulator and checker tests share: a chunked binomial-tree
// all-reduce (a non-ring plan, built here independently of the planner's
// generators).
#ifndef MERIDIAN_TESTS_UNIT_PLANNER_TEST_PLANS_H_
#define MERIDIAN_TESTS_UNIT_PLANNER_TEST_PLANS_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "planner/plan.h"

namespace meridian::planner::test_plans {

// Reduce to rank 0 along a binomial tree, then broadcast back down it, in
// chunks.  Partial sums live in scratch; the root reduces its last child
// into the output (finalizing for kAvg) and everyone else receives the
// root's bytes.
inline Plan BinomialTreeAllReduce(int rank, int n, uint64_t count, uint64_t chunk,
                                  bool in_place, bool average) {
  Plan plan;
  plan.collective = Collective::kAllReduce;
  plan.rank = rank;
  plan.world_size = n;
  plan.scratch_elems = count;
  const BufferId input = in_place ? BufferId::kOutput : BufferId::kInput;
  auto add = [&](StepKind kind, int peer, BufRef src, BufRef dst, uint64_t elems,
                 int32_t dep = -1, bool finalize = false) {
    plan.steps.push_back(BuildStep(kind, peer, src, dst, elems, finalize, dep));
    return static_cast<int32_t>(plan.steps.size() - 1);
  };
  if (n == 1) {
    if (!in_place && count > 0) add(StepKind::kCopy, -1, {input, 0}, {BufferId::kOutput, 0}, count);
    plan.Finalize();
    return plan;
  }
  std::vector<int> children;  // smallest subtree first
  for (int bit = 1; bit < n; bit <<= 1) {
    if (rank & bit) break;
    if (rank + bit < n) children.push_back(rank + bit);
  }
  const int parent = rank == 0 ? -1 : rank - (rank & -rank);
  const uint64_t chunks = std::max<uint64_t>(1, (count + chunk - 1) / chunk);
  std::vector<int32_t> reduced(chunks, -1), to_parent(chunks, -1);
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t off = std::min(count, c * chunk), len = std::min(count, off + chunk) - off;
    BufRef acc{input, off};
    for (size_t k = 0; k < children.size(); ++k) {
      const bool last_at_root = rank == 0 && k + 1 == children.size();
      const BufRef dst{last_at_root ? BufferId::kOutput : BufferId::kScratch, off};
      reduced[c] = add(StepKind::kRecvReduce, children[k], acc, dst, len, reduced[c],
                       last_at_root && average);
      acc = dst;
    }
    if (parent >= 0) to_parent[c] = add(StepKind::kSend, parent, acc, {}, len, reduced[c]);
  }
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t off = std::min(count, c * chunk), len = std::min(count, off + chunk) - off;
    int32_t have = reduced[c];
    if (parent >= 0) {
      // After the send up: the output may be the in-place input it read.
      have = add(StepKind::kRecv, parent, {}, {BufferId::kOutput, off}, len, to_parent[c]);
    }
    for (size_t k = children.size(); k-- > 0;) {
      add(StepKind::kSend, children[k], {BufferId::kOutput, off}, {}, len, have);
    }
  }
  plan.Finalize();
  return plan;
}

inline std::vector<Plan> BinomialTreePlans(int n, uint64_t count, uint64_t chunk,
                                           bool in_place = false, bool average = false) {
  std::vector<Plan> plans;
  plans.reserve(n);
  for (int r = 0; r < n; ++r) {
    plans.push_back(BinomialTreeAllReduce(r, n, count, chunk, in_place, average));
  }
  return plans;
}

// One hand-written step, for plans built step by step in tests.
inline Step MakeStep(StepKind kind, int peer, BufRef src, BufRef dst, uint64_t count,
                     int32_t dep = -1) {
  return BuildStep(kind, peer, src, dst, count, false, dep);
}

}  // namespace meridian::planner::test_plans

#endif  // MERIDIAN_TESTS_UNIT_PLANNER_TEST_PLANS_H_
