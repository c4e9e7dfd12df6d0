#include "planner/rank_set.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace meridian::planner {

RankSet RankSet::Range(int lo, int hi) {
  RankSet s;
  if (hi > lo) s.runs_.push_back({lo, hi});
  return s;
}

int64_t RankSet::count() const {
  int64_t n = 0;
  for (const Run& r : runs_) n += r.hi - r.lo;
  return n;
}

void RankSet::Append(int32_t lo, int32_t hi) {
  if (hi <= lo) return;
  // Adjacent runs merge, so equal sets have equal representations.
  if (!runs_.empty() && runs_.back().hi >= lo) {
    runs_.back().hi = std::max(runs_.back().hi, hi);
  } else {
    runs_.push_back({lo, hi});
  }
}

RankSet RankSet::Intersection(const RankSet& a, const RankSet& b) {
  RankSet out;
  size_t i = 0, j = 0;
  while (i < a.runs_.size() && j < b.runs_.size()) {
    const Run& x = a.runs_[i];
    const Run& y = b.runs_[j];
    out.Append(std::max(x.lo, y.lo), std::min(x.hi, y.hi));
    if (x.hi < y.hi) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

RankSet RankSet::Union(const RankSet& a, const RankSet& b) {
  RankSet out;
  size_t i = 0, j = 0;
  while (i < a.runs_.size() || j < b.runs_.size()) {
    const bool take_a =
        j == b.runs_.size() || (i < a.runs_.size() && a.runs_[i].lo <= b.runs_[j].lo);
    const Run& r = take_a ? a.runs_[i++] : b.runs_[j++];
    out.Append(r.lo, r.hi);
  }
  return out;
}

RankSet RankSet::Difference(const RankSet& a, const RankSet& b) {
  RankSet out;
  size_t j = 0;
  for (const Run& x : a.runs_) {
    int32_t lo = x.lo;
    while (j < b.runs_.size() && b.runs_[j].hi <= lo) ++j;
    for (size_t k = j; k < b.runs_.size() && b.runs_[k].lo < x.hi; ++k) {
      out.Append(lo, b.runs_[k].lo);
      lo = std::max(lo, b.runs_[k].hi);
    }
    out.Append(lo, x.hi);
  }
  return out;
}

std::string RankSet::ToString() const {
  std::string out = "{";
  for (size_t i = 0; i < runs_.size(); ++i) {
    if (i > 0) out += ",";
    const Run& r = runs_[i];
    absl::StrAppend(&out, r.lo);
    if (r.hi - r.lo > 1) absl::StrAppend(&out, "-", r.hi - 1);
  }
  return out + "}";
}

}  // namespace meridian::planner
