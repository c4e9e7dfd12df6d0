// A set of ranks as sorted, disjoint, non-adjacent runs [lo, hi): the
// contributors to one partial sum.  Ring partials are one or two runs (a
// stretch of the ring, possibly wrapping), tree partials a few, so a set
// costs a few words however many ranks it holds.
#ifndef MERIDIAN_PLANNER_RANK_SET_H_
#define MERIDIAN_PLANNER_RANK_SET_H_

#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"

namespace meridian::planner {

class RankSet {
 public:
  RankSet() = default;
  static RankSet Single(int rank) { return Range(rank, rank + 1); }
  static RankSet Range(int lo, int hi);  // [lo, hi); empty when hi <= lo

  bool empty() const { return runs_.empty(); }
  int64_t count() const;
  bool operator==(const RankSet& o) const { return runs_ == o.runs_; }
  bool operator!=(const RankSet& o) const { return !(*this == o); }

  // Ranks in both (empty when disjoint).
  static RankSet Intersection(const RankSet& a, const RankSet& b);
  static RankSet Union(const RankSet& a, const RankSet& b);
  // Ranks of a not in b.
  static RankSet Difference(const RankSet& a, const RankSet& b);

  // "{0-3,7}"; "{}" when empty.
  std::string ToString() const;

  // Drops the storage (for recycling).
  void Clear() { runs_.clear(); }

 private:
  struct Run {
    int32_t lo, hi;
    bool operator==(const Run& o) const { return lo == o.lo && hi == o.hi; }
  };
  void Append(int32_t lo, int32_t hi);  // lo >= every earlier hi
  absl::InlinedVector<Run, 2> runs_;
};

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_RANK_SET_H_
