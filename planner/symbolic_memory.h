// The plan checker's memory: buffers whose elements hold symbolic values
// instead of numbers.  A value says which ranks' inputs it sums, which step
// produced it and whether it was finalized (divided for kAvg); a buffer is
// a map of element ranges ("pieces") to values, each piece also carrying
// the input element index ("origin") of its first element, so that a range
// moved or reduced as a whole costs one piece however long it is.
//
// Values are reference counted by the pieces and message snapshots that
// hold them and recycled at zero, so memory follows what is live (an
// N = 1024 ring creates a million partial sums but holds few at a time).
#ifndef MERIDIAN_PLANNER_SYMBOLIC_MEMORY_H_
#define MERIDIAN_PLANNER_SYMBOLIC_MEMORY_H_

#include <cstdint>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/inlined_vector.h"
#include "planner/rank_set.h"

namespace meridian::planner {

struct SymbolicValue {
  RankSet ranks;       // whose inputs it sums
  int32_t rank = -1;   // where it was produced
  int32_t step = -1;   // by which step (-1: that rank's input)
  bool finalized = false;
  uint32_t refs = 0;
};

// A run of elements holding consecutive elements of one value.
struct Span {
  uint64_t length;
  uint64_t origin;  // input element index of the first element
  uint32_t value;
  int32_t writer = -1;  // step of the buffer's rank that wrote it; -1: input
};
// Most ranges a step touches are one piece: no allocation for those.
using Spans = absl::InlinedVector<Span, 2>;

class SymbolicMemory {
 public:
  explicit SymbolicMemory(size_t buffers) : buffers_(buffers) {}

  // A new value, not yet referenced (Write or Ref it).
  uint32_t NewValue(RankSet ranks, int32_t rank, int32_t step, bool finalized);
  const SymbolicValue& value(uint32_t id) const { return values_[id]; }

  // Snapshots (message contents) hold references like pieces do.
  void Ref(const Spans& spans);
  void Unref(const Spans& spans);

  // Appends the spans covering [begin, end) of `buffer`; false when part of
  // it was never written, with the first such element in *hole.
  bool Read(size_t buffer, uint64_t begin, uint64_t end, Spans* out,
            uint64_t* hole) const;
  // Who last wrote and last read an overwritten piece (steps of the
  // buffer's rank; -1: nobody).
  struct Replaced {
    int32_t writer;
    int32_t reader;
  };
  using ReplacedList = absl::InlinedVector<Replaced, 4>;

  // Overwrites [begin, begin + total length of spans) on behalf of step
  // `writer`; appends who wrote and read what it replaced to *replaced.
  void Write(size_t buffer, uint64_t begin, const Spans& spans, int32_t writer,
             ReplacedList* replaced = nullptr);
  // Records that step `reader` read [begin, end) (the last reader of each
  // element is kept, so that a later write can be checked against it).
  void MarkRead(size_t buffer, uint64_t begin, uint64_t end, int32_t reader);

  size_t live_values() const { return values_.size() - free_.size(); }

 private:
  struct Piece {
    uint64_t end;
    uint64_t origin;
    uint32_t value;
    int32_t writer;
    int32_t reader;
  };
  using Pieces = absl::btree_map<uint64_t, Piece>;

  void Unref(uint32_t id);
  // Makes `at` a piece boundary of `pieces`.
  void Split(Pieces& pieces, uint64_t at);

  std::vector<Pieces> buffers_;
  std::vector<SymbolicValue> values_;
  std::vector<uint32_t> free_;
};

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_SYMBOLIC_MEMORY_H_
