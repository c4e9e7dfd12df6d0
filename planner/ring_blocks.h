// Building blocks that the plan generators share: cutting ranges into
// chunks, appending steps, and the two halves of a ring all-reduce
// (reduce-scatter, all-gather) over any list of member ranks, any buffer
// placement and explicit segment boundaries.  Ring, hierarchical and
// multi-ring plans are compositions of these; the tree builds its own
// steps but cuts chunks and appends steps the same way.
//
// Offsets here are "logical": positions in the element index space of the
// operation (e.g. [0, count) of an all-reduce).  A BufView says where a
// logical offset lives in one of the plan's buffers, so the same block can
// read its contribution from kInput, keep partial sums in kScratch and put
// its result in kOutput at a shifted offset.
#ifndef MERIDIAN_PLANNER_RING_BLOCKS_H_
#define MERIDIAN_PLANNER_RING_BLOCKS_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "planner/plan.h"

namespace meridian::planner {

// A run of elements, in logical offsets.
struct Chunk {
  uint64_t offset = 0;
  uint64_t count = 0;
};

// The chunks of one segment, in order.  Never empty: an empty segment is one
// empty chunk, because its (empty) message still carries the operation
// descriptor that the receiver checks.
using Chunks = std::vector<Chunk>;

// Cuts [offset, offset + count) every `chunk` elements from its start.
Chunks ChunksFrom(uint64_t offset, uint64_t count, uint64_t chunk);

// Cuts [offset, offset + count) at absolute multiples of `chunk`.  Chunks of
// any sub-range then nest inside the chunks of the range, so a step over a
// sub-range chunk waits for exactly one step of a phase that used the
// coarser cut (see ContainingChunk).
Chunks GridChunks(uint64_t offset, uint64_t count, uint64_t chunk);

// Index of the chunk of `chunks` that contains `inner` (which must lie in
// one of them; an empty `inner` matches the chunk at or before its offset).
size_t ContainingChunk(const Chunks& chunks, const Chunk& inner);

// `count` elements split into `parts` near-equal parts (the first
// count % parts parts hold one element more).
struct EvenSplit {
  uint64_t count;
  int parts;
  uint64_t begin(int i) const {
    const uint64_t base = count / parts, extra = count % parts;
    return base * i + std::min<uint64_t>(i, extra);
  }
  uint64_t size(int i) const {
    return count / parts + (static_cast<uint64_t>(i) < count % parts ? 1 : 0);
  }
};

// Where logical offsets live: buffer offset = logical offset + shift.
struct BufView {
  BufferId buf = BufferId::kOutput;
  int64_t shift = 0;
  BufRef at(uint64_t logical) const {
    return {buf, static_cast<uint64_t>(static_cast<int64_t>(logical) + shift)};
  }
};

// A step index per segment and chunk; -1: none.
using StepGrid = std::vector<std::vector<int32_t>>;

// Appends steps to a plan.  Deps of -1 are dropped; the remaining ones fill
// Step::deps from the front.
class PlanBuilder {
 public:
  explicit PlanBuilder(Plan* plan) : plan_(plan) {}
  int32_t Send(int peer, BufRef src, uint64_t count, int32_t dep0 = -1, int32_t dep1 = -1);
  int32_t Recv(int peer, BufRef dst, uint64_t count, int32_t dep0 = -1, int32_t dep1 = -1);
  int32_t RecvReduce(int peer, BufRef src, BufRef dst, uint64_t count, bool finalize,
                     int32_t dep0 = -1, int32_t dep1 = -1);
  int32_t Copy(BufRef src, BufRef dst, uint64_t count, int32_t dep0 = -1, int32_t dep1 = -1);
  Plan* plan() const { return plan_; }

 private:
  int32_t Add(StepKind kind, int peer, BufRef src, BufRef dst, uint64_t count,
              bool finalize, int32_t dep0, int32_t dep1);
  Plan* plan_;
};

// req.order, or rank order when it is empty.
std::vector<int32_t> OrderOf(const PlanRequest& req);
// Index of `rank` in `order` (order.size() when absent).
int PositionOf(const std::vector<int32_t>& order, int rank);

// The members of one ring, in ring order, and this rank's index among them.
struct RingMembers {
  const std::vector<int32_t>* ranks = nullptr;
  int me = 0;
  int size() const { return static_cast<int>(ranks->size()); }
  int next() const { return (*ranks)[(me + 1) % size()]; }
  int prev() const { return (*ranks)[(me + size() - 1) % size()]; }
};

// Ring reduce-scatter: member i ends with the reduction, over all members,
// of segment i.  At hop s this rank sends segment me-s-1 and receives
// segment me-s-2, reducing it with its own contribution, so each segment
// travels size()-1 hops and is reduced once per member.
struct RingReduceScatterArgs {
  RingMembers ring;
  const std::vector<Chunks>* segments = nullptr;  // [member] -> segment it ends owning
  BufView contribution;  // this rank's own data
  // [segment][chunk]: step that produces this rank's contribution (an
  // earlier phase); null: the contribution is ready from the start.
  const StepGrid* contribution_ready = nullptr;
  BufView partial;      // partial sums between hops
  BufView final_value;  // where this rank's own segment ends
  bool finalize = false;  // kAvg: divide this rank's final segment
  // > 0: at most this many of this block's receive-reduces in flight.
  int window = 0;
};
struct RingReduceScatterSteps {
  StepGrid sent;     // the send that last reads each segment chunk here (-1: own)
  StepGrid reduced;  // the receive-reduce of each chunk; own segment: the final
};
RingReduceScatterSteps AppendRingReduceScatter(const RingReduceScatterArgs& args,
                                               PlanBuilder* b);

// Ring all-gather: member i starts with segment i, every member ends with
// all of them; each segment is forwarded as received (these exact bytes).
struct RingAllGatherArgs {
  RingMembers ring;
  const std::vector<Chunks>* segments = nullptr;  // [member] -> segment it contributes
  BufView own_source;  // where this rank's own segment is read
  const std::vector<int32_t>* own_ready = nullptr;  // per chunk of the own segment
  BufView dest;  // where received segments are written (and forwarded from)
  // [segment][chunk]: a step that must finish before that chunk's area is
  // overwritten (the last reader of an earlier phase); null: none.
  const StepGrid* overwrite_after = nullptr;
};
// Returns, per segment and chunk, the step after which that chunk is in
// `dest` here: the receive, or for the own segment own_ready (or -1).
StepGrid AppendRingAllGather(const RingAllGatherArgs& args, PlanBuilder* b);

// Ring all-reduce of the logical range [offset, offset + count) along
// `ring`: segment i (by position) is EvenSplit of the range, cut in chunks
// from each segment's start; partial and final values in kOutput at the
// same offsets, the contribution in kInput (kOutput when in place).
void AppendRingAllReduce(const RingMembers& ring, uint64_t offset, uint64_t count,
                         uint64_t chunk, bool in_place, bool average, int window,
                         PlanBuilder* b);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_RING_BLOCKS_H_
