// Steps collected with a virtual time and emitted sorted by it: the tree
// generators (tree.cc, region_tree.cc) order every link's messages by when
// they can happen, so both ends of a link agree on the order and the
// executor's in-order posting never waits on a later message (see the top
// of tree.cc).  Key is the generator's time stamp, ordered by operator<;
// deps are the handles Add returned.
#ifndef MERIDIAN_PLANNER_TIMED_STEPS_H_
#define MERIDIAN_PLANNER_TIMED_STEPS_H_

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "planner/plan.h"

namespace meridian::planner {

template <typename KeyT>
class TimedSteps {
 public:
  using Key = KeyT;

  int32_t Add(const Key& key, StepKind kind, int peer, BufRef src, BufRef dst, uint64_t count,
              bool finalize = false, int32_t dep0 = -1, int32_t dep1 = -1) {
    keys_.push_back(key);
    steps_.push_back(BuildStep(kind, peer, src, dst, count, finalize, dep0, dep1));
    return static_cast<int32_t>(steps_.size() - 1);
  }

  // Appends the steps to an empty plan in time order (stable for equal
  // keys), renumbering deps; every dep comes before its step.
  void EmitInto(Plan* plan) const {
    assert(plan->steps.empty());
    std::vector<int32_t> by_time(steps_.size());
    std::iota(by_time.begin(), by_time.end(), 0);
    std::stable_sort(by_time.begin(), by_time.end(),
                     [&](int32_t a, int32_t b) { return keys_[a] < keys_[b]; });
    std::vector<int32_t> index_of(steps_.size());
    for (size_t i = 0; i < by_time.size(); ++i) index_of[by_time[i]] = static_cast<int32_t>(i);
    plan->steps.reserve(steps_.size());
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

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_TIMED_STEPS_H_
