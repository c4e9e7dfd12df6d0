// Ring algorithms, pipelined in chunks.
//
// Data is cut into world_size segments (sizes differ by at most one element
// when the count does not divide) and each segment into chunks; every chunk
// travels the ring independently, so sending, receiving and reducing of
// different chunks overlap.  Each segment has at least one chunk, even when
// empty: the empty message still carries the operation descriptor, so every
// rank checks its neighbour's call and a zero-count operation still
// synchronises like the real one.
//
// Reduce-scatter phase: at step s rank r sends segment r-s-1 and receives
// segment r-s-2, reducing it with its own contribution; after world_size-1
// steps rank r holds the final value of segment r, computed once there
// (with the kAvg division).  The all-gather phase then forwards those exact
// bytes around the ring, so every rank ends with byte-identical results.
#include <algorithm>
#include <cassert>

#include "planner/plan.h"

namespace meridian::planner {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

struct Segments {
  uint64_t count;
  int n;
  uint64_t begin(int i) const {
    uint64_t base = count / n, extra = count % n;
    return base * i + std::min<uint64_t>(i, extra);
  }
  uint64_t size(int i) const {
    return count / n + (static_cast<uint64_t>(i) < count % n ? 1 : 0);
  }
};

struct Chunking {
  uint64_t chunk;
  uint64_t chunks(uint64_t elems) const {
    return std::max<uint64_t>(1, (elems + chunk - 1) / chunk);
  }
  uint64_t begin(uint64_t elems, uint64_t c) const { return std::min(elems, c * chunk); }
  uint64_t size(uint64_t elems, uint64_t c) const {
    return std::min(elems, (c + 1) * chunk) - begin(elems, c);
  }
};

class Builder {
 public:
  explicit Builder(Plan* plan) : plan_(plan) {}
  int32_t Add(StepKind kind, int peer, BufRef src, BufRef dst, uint64_t count,
              int32_t dep0 = -1, int32_t dep1 = -1, bool finalize = false) {
    Step s;
    s.kind = kind;
    s.peer = peer;
    s.src = src;
    s.dst = dst;
    s.count = count;
    s.finalize = finalize;
    s.deps[0] = dep0;
    s.deps[1] = dep1;
    plan_->steps.push_back(s);
    return static_cast<int32_t>(plan_->steps.size() - 1);
  }

 private:
  Plan* plan_;
};

BufRef In(uint64_t off) { return {BufferId::kInput, off}; }
BufRef Out(uint64_t off) { return {BufferId::kOutput, off}; }
BufRef Scratch(uint64_t off) { return {BufferId::kScratch, off}; }

// Reduce-scatter then (optionally) all-gather over segments of `total`.
// For all-reduce the partials and finals live in the output buffer; for
// reduce-scatter partials live in scratch and only segment `rank` goes to
// the output (at offset 0).
void BuildRingReduceGather(const PlanRequest& req, uint64_t total,
                           bool all_gather, Plan* plan) {
  const int n = req.world_size, r = req.rank;
  const int next = Mod(r + 1, n), prev = Mod(r - 1, n);
  Segments seg{total, n};
  Chunking ch{req.chunk_elems};
  Builder b(plan);
  const bool reduce_scatter = !all_gather;
  // The in-place input of all-reduce is the output buffer itself.
  auto input = [&](uint64_t off) { return req.in_place && all_gather ? Out(off) : In(off); };
  auto partial = [&](uint64_t off) { return reduce_scatter ? Scratch(off) : Out(off); };
  auto final_dst = [&](int sg, uint64_t off) {
    return reduce_scatter ? Out(off - seg.begin(sg)) : Out(off);
  };
  if (reduce_scatter) plan->scratch_elems = total;

  // last_rr[sg][c]: step that reduced chunk c of segment sg (previous RS step).
  std::vector<std::vector<int32_t>> reduced(n), sent(n);
  for (int s = 0; s < n - 1; ++s) {
    const int send_seg = Mod(r - s - 1, n), recv_seg = Mod(r - s - 2, n);
    const bool last = (s == n - 2);
    const uint64_t se = seg.size(send_seg), re = seg.size(recv_seg);
    sent[send_seg].resize(ch.chunks(se));
    for (uint64_t c = 0; c < ch.chunks(se); ++c) {
      uint64_t off = seg.begin(send_seg) + ch.begin(se, c);
      int32_t dep = s == 0 ? -1 : reduced[send_seg][c];
      BufRef src = s == 0 ? input(off) : partial(off);
      sent[send_seg][c] = b.Add(StepKind::kSend, next, src, {}, ch.size(se, c), dep);
    }
    reduced[recv_seg].resize(ch.chunks(re));
    for (uint64_t c = 0; c < ch.chunks(re); ++c) {
      uint64_t off = seg.begin(recv_seg) + ch.begin(re, c);
      BufRef dst = last ? final_dst(recv_seg, off) : partial(off);
      reduced[recv_seg][c] = b.Add(StepKind::kRecvReduce, prev, input(off), dst,
                                   ch.size(re, c), -1, -1, last && req.average);
    }
  }
  if (!all_gather) return;
  // All-gather: forward final segments.  A receive into segment x must wait
  // for the reduce-scatter send that read x (buffer reuse).
  std::vector<std::vector<int32_t>> got(n);
  for (int t = 0; t < n - 1; ++t) {
    const int send_seg = Mod(r - t, n), recv_seg = Mod(r - t - 1, n);
    const uint64_t se = seg.size(send_seg), re = seg.size(recv_seg);
    for (uint64_t c = 0; c < ch.chunks(se); ++c) {
      uint64_t off = seg.begin(send_seg) + ch.begin(se, c);
      int32_t dep = t == 0 ? reduced[send_seg][c] : got[send_seg][c];
      b.Add(StepKind::kSend, next, Out(off), {}, ch.size(se, c), dep);
    }
    got[recv_seg].resize(ch.chunks(re));
    for (uint64_t c = 0; c < ch.chunks(re); ++c) {
      uint64_t off = seg.begin(recv_seg) + ch.begin(re, c);
      got[recv_seg][c] = b.Add(StepKind::kRecv, prev, {}, Out(off), ch.size(re, c),
                               sent[recv_seg][c]);
    }
  }
}

void BuildRingAllGather(const PlanRequest& req, Plan* plan) {
  const int n = req.world_size, r = req.rank;
  const int next = Mod(r + 1, n), prev = Mod(r - 1, n);
  const uint64_t per = req.count;
  Chunking ch{req.chunk_elems};
  Builder b(plan);
  if (!req.in_place && per > 0) b.Add(StepKind::kCopy, -1, In(0), Out(r * per), per);
  std::vector<std::vector<int32_t>> got(n);
  for (int t = 0; t < n - 1; ++t) {
    const int send_seg = Mod(r - t, n), recv_seg = Mod(r - t - 1, n);
    for (uint64_t c = 0; c < ch.chunks(per); ++c) {
      // Step 0 sends straight from the input (it is Out[r] when in place).
      BufRef src = t == 0 ? (req.in_place ? Out(r * per + ch.begin(per, c)) : In(ch.begin(per, c)))
                          : Out(send_seg * per + ch.begin(per, c));
      int32_t dep = t == 0 ? -1 : got[send_seg][c];
      b.Add(StepKind::kSend, next, src, {}, ch.size(per, c), dep);
    }
    got[recv_seg].resize(ch.chunks(per));
    for (uint64_t c = 0; c < ch.chunks(per); ++c) {
      got[recv_seg][c] = b.Add(StepKind::kRecv, prev, {},
                               Out(recv_seg * per + ch.begin(per, c)), ch.size(per, c));
    }
  }
}

// Pipelined chain root -> root+1 -> ... -> root-1.
void BuildRingBroadcast(const PlanRequest& req, Plan* plan) {
  const int n = req.world_size, r = req.rank;
  const int next = Mod(r + 1, n), prev = Mod(r - 1, n);
  const int pos = Mod(r - req.root, n);
  Chunking ch{req.chunk_elems};
  Builder b(plan);
  const uint64_t count = req.count;
  // The chain's ends exchange an empty message (sent at once, so it costs
  // no latency) that closes the ring: the root, which otherwise only sends,
  // also checks a neighbour's descriptor.
  if (pos == n - 1) b.Add(StepKind::kSend, next, Out(0), {}, 0);
  if (pos == 0) {
    b.Add(StepKind::kRecv, prev, {}, Out(0), 0);
    if (!req.in_place && count > 0) b.Add(StepKind::kCopy, -1, In(0), Out(0), count);
    for (uint64_t c = 0; c < ch.chunks(count); ++c) {
      b.Add(StepKind::kSend, next, In(ch.begin(count, c)), {}, ch.size(count, c));
    }
    return;
  }
  for (uint64_t c = 0; c < ch.chunks(count); ++c) {
    int32_t got = b.Add(StepKind::kRecv, prev, {}, Out(ch.begin(count, c)), ch.size(count, c));
    if (pos < n - 1) {
      b.Add(StepKind::kSend, next, Out(ch.begin(count, c)), {}, ch.size(count, c), got);
    }
  }
}

// Pipelined chain root+1 -> root+2 -> ... -> root, reducing on the way.
void BuildRingReduce(const PlanRequest& req, Plan* plan) {
  const int n = req.world_size, r = req.rank;
  const int next = Mod(r + 1, n), prev = Mod(r - 1, n);
  const int pos = Mod(r - req.root - 1, n);  // 0 starts, n-1 is the root
  Chunking ch{req.chunk_elems};
  Builder b(plan);
  const uint64_t count = req.count;
  // In place on the root, the input is the output buffer.
  auto input = [&](uint64_t off) { return req.in_place ? Out(off) : In(off); };
  if (pos > 0 && pos < n - 1) plan->scratch_elems = count;
  // Closing the ring, as in broadcast: the first sender checks the root.
  if (pos == n - 1) b.Add(StepKind::kSend, next, Out(0), {}, 0);
  if (pos == 0) b.Add(StepKind::kRecv, prev, {}, Out(0), 0);
  for (uint64_t c = 0; c < ch.chunks(count); ++c) {
    uint64_t off = ch.begin(count, c), len = ch.size(count, c);
    if (pos == 0) {
      b.Add(StepKind::kSend, next, input(off), {}, len);
    } else if (pos < n - 1) {
      int32_t red = b.Add(StepKind::kRecvReduce, prev, input(off), Scratch(off), len);
      b.Add(StepKind::kSend, next, Scratch(off), {}, len, red);
    } else {
      b.Add(StepKind::kRecvReduce, prev, input(off), Out(off), len, -1, -1, req.average);
    }
  }
}

}  // namespace

Plan BuildRingPlan(const PlanRequest& req) {
  assert(req.world_size >= 1 && req.rank >= 0 && req.rank < req.world_size);
  assert(req.chunk_elems >= 1);
  Plan plan;
  plan.collective = req.collective;
  plan.rank = req.rank;
  plan.world_size = req.world_size;
  const int n = req.world_size;
  if (n == 1) {
    // Alone: the result is the input.  kAvg divides by one: nothing to do.
    uint64_t elems = req.count;
    if (req.collective == Collective::kBarrier) elems = 0;
    if (!req.in_place && elems > 0) {
      Builder(&plan).Add(StepKind::kCopy, -1, In(0), Out(0), elems);
    }
    plan.Finalize();
    return plan;
  }
  switch (req.collective) {
    case Collective::kAllReduce:
    case Collective::kBarrier:
      BuildRingReduceGather(req, req.count, /*all_gather=*/true, &plan);
      break;
    case Collective::kReduceScatter:
      BuildRingReduceGather(req, req.count * n, /*all_gather=*/false, &plan);
      break;
    case Collective::kAllGather:
      BuildRingAllGather(req, &plan);
      break;
    case Collective::kBroadcast:
      BuildRingBroadcast(req, &plan);
      break;
    case Collective::kReduce:
      BuildRingReduce(req, &plan);
      break;
  }
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
