#include "planner/symbolic_memory.h"

#include <iterator>
#include <utility>

namespace meridian::planner {

uint32_t SymbolicMemory::NewValue(RankSet ranks, int32_t rank, int32_t step, bool finalized) {
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<uint32_t>(values_.size());
    values_.emplace_back();
  }
  SymbolicValue& v = values_[id];
  v.ranks = std::move(ranks);
  v.rank = rank;
  v.step = step;
  v.finalized = finalized;
  v.refs = 0;
  return id;
}

void SymbolicMemory::Ref(const Spans& spans) {
  for (const Span& s : spans) ++values_[s.value].refs;
}

void SymbolicMemory::Unref(const Spans& spans) {
  for (const Span& s : spans) Unref(s.value);
}

void SymbolicMemory::Unref(uint32_t id) {
  if (--values_[id].refs == 0) {
    values_[id].ranks.Clear();
    free_.push_back(id);
  }
}

bool SymbolicMemory::Read(size_t buffer, uint64_t begin, uint64_t end,
                          Spans* out, uint64_t* hole) const {
  if (begin >= end) return true;
  const Pieces& pieces = buffers_[buffer];
  auto it = pieces.upper_bound(begin);
  if (it != pieces.begin() && std::prev(it)->second.end > begin) --it;
  uint64_t at = begin;
  for (; at < end && it != pieces.end(); ++it) {
    if (it->first > at) break;  // a gap
    const Piece& p = it->second;
    const uint64_t stop = std::min(end, p.end);
    out->push_back({stop - at, p.origin + (at - it->first), p.value, p.writer});
    at = stop;
  }
  if (at < end) {
    *hole = at;
    return false;
  }
  return true;
}

void SymbolicMemory::Split(Pieces& pieces, uint64_t at) {
  auto it = pieces.upper_bound(at);
  if (it == pieces.begin()) return;
  --it;
  Piece& p = it->second;
  if (it->first == at || p.end <= at) return;
  Piece rest{p.end, p.origin + (at - it->first), p.value, p.writer, p.reader};
  p.end = at;
  ++values_[rest.value].refs;
  pieces.emplace(at, rest);
}

void SymbolicMemory::MarkRead(size_t buffer, uint64_t begin, uint64_t end, int32_t reader) {
  if (begin >= end) return;
  Pieces& pieces = buffers_[buffer];
  Split(pieces, begin);
  Split(pieces, end);
  for (auto it = pieces.lower_bound(begin); it != pieces.end() && it->first < end; ++it) {
    it->second.reader = reader;
  }
}

void SymbolicMemory::Write(size_t buffer, uint64_t begin, const Spans& spans, int32_t writer,
                           ReplacedList* replaced) {
  uint64_t end = begin;
  for (const Span& s : spans) end += s.length;
  if (end == begin) return;
  // Referenced before the old pieces let go: the new spans may hold the
  // very values being overwritten.
  Ref(spans);
  Pieces& pieces = buffers_[buffer];
  Split(pieces, begin);
  Split(pieces, end);
  auto it = pieces.lower_bound(begin);
  while (it != pieces.end() && it->first < end) {
    if (replaced != nullptr) replaced->push_back({it->second.writer, it->second.reader});
    Unref(it->second.value);
    it = pieces.erase(it);
  }
  uint64_t at = begin;
  for (const Span& s : spans) {
    if (s.length == 0) {
      Unref(s.value);
      continue;
    }
    pieces.emplace(at, Piece{at + s.length, s.origin, s.value, writer, -1});
    at += s.length;
  }
}

}  // namespace meridian::planner
