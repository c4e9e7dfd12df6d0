#include "planner/ring_blocks.h"

#include <cassert>
#include <numeric>

namespace meridian::planner {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

}  // namespace

Chunks ChunksFrom(uint64_t offset, uint64_t count, uint64_t chunk) {
  assert(chunk >= 1);
  const uint64_t chunks = std::max<uint64_t>(1, (count + chunk - 1) / chunk);
  Chunks out;
  out.reserve(chunks);
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t begin = std::min(count, c * chunk);
    out.push_back({offset + begin, std::min(count, (c + 1) * chunk) - begin});
  }
  return out;
}

Chunks GridChunks(uint64_t offset, uint64_t count, uint64_t chunk) {
  assert(chunk >= 1);
  if (count == 0) return {{offset, 0}};
  Chunks out;
  const uint64_t end = offset + count;
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t next = std::min(end, (pos / chunk + 1) * chunk);
    out.push_back({pos, next - pos});
    pos = next;
  }
  return out;
}

size_t ContainingChunk(const Chunks& chunks, const Chunk& inner) {
  auto it = std::upper_bound(chunks.begin(), chunks.end(), inner.offset,
                             [](uint64_t off, const Chunk& c) { return off < c.offset; });
  assert(it != chunks.begin());
  const size_t idx = static_cast<size_t>(it - chunks.begin()) - 1;
  assert(inner.offset + inner.count <= chunks[idx].offset + chunks[idx].count);
  return idx;
}

std::vector<int32_t> OrderOf(const PlanRequest& req) {
  if (!req.order.empty()) return req.order;
  std::vector<int32_t> order(req.world_size);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

int PositionOf(const std::vector<int32_t>& order, int rank) {
  return static_cast<int>(std::find(order.begin(), order.end(), rank) - order.begin());
}

int32_t PlanBuilder::Add(StepKind kind, int peer, BufRef src, BufRef dst, uint64_t count,
                         bool finalize, int32_t dep0, int32_t dep1) {
  plan_->steps.push_back(BuildStep(kind, peer, src, dst, count, finalize, dep0, dep1));
  return static_cast<int32_t>(plan_->steps.size() - 1);
}

int32_t PlanBuilder::Send(int peer, BufRef src, uint64_t count, int32_t dep0, int32_t dep1) {
  return Add(StepKind::kSend, peer, src, {}, count, false, dep0, dep1);
}

int32_t PlanBuilder::Recv(int peer, BufRef dst, uint64_t count, int32_t dep0, int32_t dep1) {
  return Add(StepKind::kRecv, peer, {}, dst, count, false, dep0, dep1);
}

int32_t PlanBuilder::RecvReduce(int peer, BufRef src, BufRef dst, uint64_t count,
                                bool finalize, int32_t dep0, int32_t dep1) {
  return Add(StepKind::kRecvReduce, peer, src, dst, count, finalize, dep0, dep1);
}

int32_t PlanBuilder::Copy(BufRef src, BufRef dst, uint64_t count, int32_t dep0, int32_t dep1) {
  return Add(StepKind::kCopy, -1, src, dst, count, false, dep0, dep1);
}

RingReduceScatterSteps AppendRingReduceScatter(const RingReduceScatterArgs& a,
                                               PlanBuilder* b) {
  const int n = a.ring.size(), me = a.ring.me;
  const std::vector<Chunks>& seg = *a.segments;
  assert(static_cast<int>(seg.size()) == n);
  RingReduceScatterSteps out;
  out.sent.resize(n);
  out.reduced.resize(n);
  for (int i = 0; i < n; ++i) {
    out.sent[i].assign(seg[i].size(), -1);
    out.reduced[i].assign(seg[i].size(), -1);
  }
  auto ready = [&](int sg, size_t c) {
    return a.contribution_ready != nullptr ? (*a.contribution_ready)[sg][c] : -1;
  };
  std::vector<int32_t> posted;  // receive-reduces in posting order (the window)
  for (int s = 0; s < n - 1; ++s) {
    const int send_seg = Mod(me - s - 1, n), recv_seg = Mod(me - s - 2, n);
    const bool last = s == n - 2;
    for (size_t c = 0; c < seg[send_seg].size(); ++c) {
      const Chunk& ch = seg[send_seg][c];
      // The first hop sends the contribution itself; later hops forward the
      // partial sum this rank reduced one hop earlier.
      const BufRef src = s == 0 ? a.contribution.at(ch.offset) : a.partial.at(ch.offset);
      const int32_t dep = s == 0 ? ready(send_seg, c) : out.reduced[send_seg][c];
      out.sent[send_seg][c] = b->Send(a.ring.next(), src, ch.count, dep);
    }
    for (size_t c = 0; c < seg[recv_seg].size(); ++c) {
      const Chunk& ch = seg[recv_seg][c];
      const BufRef dst = last ? a.final_value.at(ch.offset) : a.partial.at(ch.offset);
      const int32_t window_dep =
          a.window > 0 && posted.size() >= static_cast<size_t>(a.window)
              ? posted[posted.size() - a.window]
              : -1;
      const int32_t step = b->RecvReduce(a.ring.prev(), a.contribution.at(ch.offset), dst,
                                         ch.count, last && a.finalize, ready(recv_seg, c),
                                         window_dep);
      out.reduced[recv_seg][c] = step;
      posted.push_back(step);
    }
  }
  return out;
}

StepGrid AppendRingAllGather(const RingAllGatherArgs& a, PlanBuilder* b) {
  const int n = a.ring.size(), me = a.ring.me;
  const std::vector<Chunks>& seg = *a.segments;
  assert(static_cast<int>(seg.size()) == n);
  StepGrid got(n);
  for (int i = 0; i < n; ++i) got[i].assign(seg[i].size(), -1);
  if (a.own_ready != nullptr) got[me] = *a.own_ready;
  for (int t = 0; t < n - 1; ++t) {
    const int send_seg = Mod(me - t, n), recv_seg = Mod(me - t - 1, n);
    for (size_t c = 0; c < seg[send_seg].size(); ++c) {
      const Chunk& ch = seg[send_seg][c];
      const BufRef src = t == 0 ? a.own_source.at(ch.offset) : a.dest.at(ch.offset);
      b->Send(a.ring.next(), src, ch.count, got[send_seg][c]);
    }
    for (size_t c = 0; c < seg[recv_seg].size(); ++c) {
      const Chunk& ch = seg[recv_seg][c];
      const int32_t dep =
          a.overwrite_after != nullptr ? (*a.overwrite_after)[recv_seg][c] : -1;
      got[recv_seg][c] = b->Recv(a.ring.prev(), a.dest.at(ch.offset), ch.count, dep);
    }
  }
  return got;
}

void AppendRingAllReduce(const RingMembers& ring, uint64_t offset, uint64_t count,
                         uint64_t chunk, bool in_place, bool average, int window,
                         PlanBuilder* b) {
  const int n = ring.size();
  const BufView out{BufferId::kOutput, 0};
  const BufView input{in_place ? BufferId::kOutput : BufferId::kInput, 0};
  if (n == 1) {
    if (!in_place && count > 0) b->Copy(input.at(offset), out.at(offset), count);
    return;
  }
  const EvenSplit split{count, n};
  std::vector<Chunks> segments(n);
  for (int i = 0; i < n; ++i) {
    segments[i] = ChunksFrom(offset + split.begin(i), split.size(i), chunk);
  }
  RingReduceScatterArgs rs;
  rs.ring = ring;
  rs.segments = &segments;
  rs.contribution = input;
  rs.partial = out;
  rs.final_value = out;
  rs.finalize = average;
  rs.window = window;
  const RingReduceScatterSteps reduced = AppendRingReduceScatter(rs, b);
  // The all-gather overwrites a segment only after this rank's
  // reduce-scatter send of it has read it (buffer reuse).
  RingAllGatherArgs ag;
  ag.ring = ring;
  ag.segments = &segments;
  ag.own_source = out;
  ag.own_ready = &reduced.reduced[ring.me];
  ag.dest = out;
  ag.overwrite_after = &reduced.sent;
  AppendRingAllGather(ag, b);
}

}  // namespace meridian::planner
