#include "planner/plan_check.h"

#include <algorithm>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "planner/rank_set.h"
#include "planner/simulator.h"
#include "planner/symbolic_memory.h"
#include "planner/topology.h"

namespace meridian::planner {
namespace {

// The schedule only needs to be one the executor could take; any network
// gives one, so the checker runs on a plain uniform one.
class UniformNet final : public LinkModel {
 public:
  explicit UniformNet(int n) : n_(n) {}
  int size() const override { return n_; }
  double latency(int, int) const override { return 10e-6; }
  double bandwidth(int, int) const override { return 1e9; }
  double egress(int) const override { return 0; }
  double ingress(int) const override { return 0; }
  int region(int) const override { return 0; }
  int num_regions() const override { return 1; }
  double trunk(int, int) const override { return 0; }

 private:
  int n_;
};

constexpr size_t kElemSize = 4;
constexpr int kBuffers = 3;  // kInput, kOutput, kScratch

const char* BufName(BufferId b) {
  switch (b) {
    case BufferId::kInput: return "input";
    case BufferId::kOutput: return "output";
    case BufferId::kScratch: return "scratch";
  }
  return "?";
}

std::string Range(BufferId b, uint64_t begin, uint64_t end) {
  return absl::StrCat(BufName(b), "[", begin, ",", end, ")");
}

bool Reduces(Collective c) {
  return c == Collective::kAllReduce || c == Collective::kReduce ||
         c == Collective::kReduceScatter || c == Collective::kBarrier;
}

// Where each of a rank's three logical buffers lives, as the runtime lays
// them out (runtime/src/validate.cc): in-place forms alias one buffer into
// the other.
struct Layout {
  uint64_t size[kBuffers] = {0, 0, 0};  // logical sizes, elements
  int phys[kBuffers] = {0, 1, 2};
  uint64_t base[kBuffers] = {0, 0, 0};
  // A separate input is the caller's send buffer: read only.
  bool input_read_only = false;
};

bool NonRoot(const PlanRequest& req, int rank) {
  return (req.collective == Collective::kBroadcast || req.collective == Collective::kReduce) &&
         rank != req.root;
}

Layout MakeLayout(const PlanRequest& req, int rank, uint64_t scratch_elems) {
  Layout l;
  const uint64_t n = static_cast<uint64_t>(req.world_size), c = req.count;
  uint64_t in = c, out = c;
  if (req.collective == Collective::kAllGather) out = c * n;
  if (req.collective == Collective::kReduceScatter) in = c * n;
  bool in_place = req.in_place && req.collective != Collective::kTransfer;
  // A reduce's non-root has no receive buffer: the runtime runs it in place
  // on its send buffer (and expects that buffer back unchanged).
  if (req.collective == Collective::kReduce && NonRoot(req, rank)) in_place = true;
  // A broadcast's non-root has no send buffer unless in place.
  if (req.collective == Collective::kBroadcast && NonRoot(req, rank) && !in_place) in = 0;
  l.size[0] = in;
  l.size[1] = out;
  l.size[2] = scratch_elems;
  l.input_read_only = !in_place;
  if (!in_place) return l;
  if (req.collective == Collective::kReduceScatter) {
    l.phys[1] = 0;
    l.base[1] = rank * c;
  } else {
    l.phys[0] = 1;
    l.base[0] = req.collective == Collective::kAllGather ? rank * c : 0;
  }
  return l;
}

// The posted sends and receives whose buffer ranges the link may still be
// using, in one buffer.  Sends (reads) are few at a time and live in a
// small array; receives (writes) can be many (a ring posts its whole
// all-gather at once) and live in a tree by first element, where an
// overlap query looks back at most the longest range ever registered.
class InFlight {
 public:
  struct Access {
    uint64_t begin, end;
    int32_t step;
    bool write;
  };
  void Add(const Access& a) {
    if (!a.write) {
      reads_.push_back(a);
      return;
    }
    writes_.emplace(a.begin, a);
    longest_write_ = std::max(longest_write_, a.end - a.begin);
  }
  void Remove(uint64_t begin, int32_t step, bool write) {
    if (!write) {
      for (size_t i = 0; i < reads_.size(); ++i) {
        if (reads_[i].step == step) {
          reads_[i] = reads_.back();
          reads_.pop_back();
          return;
        }
      }
      return;
    }
    auto [it, stop] = writes_.equal_range(begin);
    for (; it != stop; ++it) {
      if (it->second.step == step) {
        writes_.erase(it);
        return;
      }
    }
  }
  // An access to [begin, end) that conflicts with one in flight (at least
  // one of the two writes), or nullptr.
  const Access* Conflict(uint64_t begin, uint64_t end, int32_t step, bool write) const {
    if (write) {
      for (const Access& a : reads_) {
        if (a.begin < end && begin < a.end && a.step != step) return &a;
      }
    }
    if (writes_.empty()) return nullptr;
    auto it = writes_.lower_bound(begin > longest_write_ ? begin - longest_write_ + 1 : 0);
    for (; it != writes_.end() && it->first < end; ++it) {
      const Access& a = it->second;
      if (a.end > begin && a.step != step) return &a;
    }
    return nullptr;
  }

 private:
  absl::InlinedVector<Access, 2> reads_;
  absl::btree_multimap<uint64_t, Access> writes_;
  uint64_t longest_write_ = 0;
};

// Messages a rank sent that are not yet consumed, per receiver, in
// message order (consumed almost always from the front; a plain receive
// may overtake a receive-reduce waiting for the progress thread).
class Outbox {
 public:
  void Push(int peer, int32_t step, Spans spans) {
    Queue& q = QueueFor(peer);
    q.items.push_back({step, std::move(spans)});
  }
  Spans Take(int peer, int32_t step) {
    Queue& q = QueueFor(peer);
    Spans out;
    for (size_t i = q.head; i < q.items.size(); ++i) {
      if (q.items[i].step != step) continue;
      out = std::move(q.items[i].spans);
      q.items[i].step = -1;  // consumed
      break;
    }
    while (q.head < q.items.size() && q.items[q.head].step < 0) ++q.head;
    if (q.head == q.items.size()) {
      q.items.clear();
      q.head = 0;
    }
    return out;
  }

 private:
  struct Item {
    int32_t step;
    Spans spans;
  };
  struct Queue {
    int peer;
    std::vector<Item> items;
    size_t head = 0;
  };
  Queue& QueueFor(int peer) {
    auto it = std::lower_bound(queues_.begin(), queues_.end(), peer,
                               [](const Queue& q, int p) { return q.peer < p; });
    if (it == queues_.end() || it->peer != peer) it = queues_.insert(it, Queue{peer, {}, 0});
    return *it;
  }
  std::vector<Queue> queues_;  // by peer
};

class Checker final : public StepObserver {
 public:
  Checker(const std::vector<Plan>& plans, const PlanRequest& req)
      : plans_(plans), req_(req), memory_(plans.size() * kBuffers),
        in_flight_(plans.size() * kBuffers), outboxes_(plans.size()) {}

  absl::Status Validate();
  void WriteInputs();
  absl::Status OnPosted(int rank, int32_t step) override;
  absl::Status OnDone(int rank, int32_t step, int32_t from_step) override;
  absl::Status CheckOutputs();

 private:
  struct Where {
    size_t buffer;  // in memory_
    int phys;
    uint64_t begin, end;
  };
  Where Resolve(int rank, BufRef ref, uint64_t count) const {
    const Layout& l = layouts_[rank];
    const int b = static_cast<int>(ref.buf);
    const uint64_t begin = l.base[b] + ref.offset;
    return {static_cast<size_t>(rank) * kBuffers + l.phys[b], l.phys[b], begin, begin + count};
  }
  std::string At(int rank, int32_t step) const { return StepName(plans_[rank], step); }
  std::string Producer(const SymbolicValue& v) const {
    return v.step < 0 ? absl::StrCat("the input of rank ", v.rank) : At(v.rank, v.step);
  }
  absl::Status CheckBounds(int rank, int32_t step, BufRef ref, uint64_t count) const;
  absl::Status CheckHazard(int rank, int32_t step, BufRef ref, uint64_t count, bool write) const;
  absl::Status ReadOrFail(int rank, int32_t step, BufRef ref, uint64_t count,
                          Spans* out) const;
  absl::Status Combine(int rank, int32_t step, const Spans& mine,
                       const Spans& received, Spans* out);
  Spans TakeMessage(int from, int to, int32_t from_step);
  // Whether `later` waits, through its dependencies, for `earlier` (both
  // steps of `rank`).  Only dependencies order two steps of one rank in
  // every schedule: this schedule's order may be luck.
  bool Ordered(int rank, int32_t earlier, int32_t later);
  absl::Status CheckReadOrder(int rank, int32_t step, BufRef ref, const Spans& read);
  absl::Status CheckWriteOrder(int rank, int32_t step, BufRef ref,
                               const SymbolicMemory::ReplacedList& replaced);
  void Forget(int rank, int32_t step);
  absl::Status CheckOutputOf(int rank, std::vector<std::pair<uint64_t, uint32_t>>* reference);
  absl::Status CheckInputKept(int rank);

  const std::vector<Plan>& plans_;
  PlanRequest req_;
  // Ordered's work list and visit marks (stamped per query), kept between
  // queries to save allocations.
  std::vector<int32_t> search_;
  std::vector<uint32_t> visited_;
  uint32_t stamp_ = 0;
  std::vector<Layout> layouts_;
  SymbolicMemory memory_;
  std::vector<InFlight> in_flight_;  // per buffer of memory_
  std::vector<Outbox> outboxes_;  // per sender
};

absl::Status Checker::CheckBounds(int rank, int32_t step, BufRef ref, uint64_t count) const {
  if (static_cast<int>(ref.buf) >= kBuffers) {
    return absl::InvalidArgumentError(absl::StrCat(
        At(rank, step), " names buffer ", static_cast<int>(ref.buf), ", not input, output or scratch"));
  }
  if (count == 0) return absl::OkStatus();  // touches nothing, wherever it points
  const uint64_t size = layouts_[rank].size[static_cast<int>(ref.buf)];
  if (ref.offset > size || count > size - ref.offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        At(rank, step), " uses ", Range(ref.buf, ref.offset, ref.offset + count),
        ", past the end of ", BufName(ref.buf), " (", size, " elements)"));
  }
  return absl::OkStatus();
}

absl::Status Checker::Validate() {
  const int n = req_.world_size;
  if (static_cast<int>(plans_.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(plans_.size(), " plans for a world of ", n));
  }
  for (int r = 0; r < n; ++r) {
    const Plan& p = plans_[r];
    if (p.collective != req_.collective) {
      return absl::InvalidArgumentError(absl::StrCat("plan of rank ", r, " is for ",
                                                     CollectiveName(p.collective), ", not ",
                                                     CollectiveName(req_.collective)));
    }
    layouts_.push_back(MakeLayout(req_, r, p.scratch_elems));
  }
  for (int r = 0; r < n; ++r) {
    const Plan& p = plans_[r];
    if (p.rank != r || p.world_size != n) continue;  // the simulator says so
    for (size_t i = 0; i < p.steps.size(); ++i) {
      const Step& s = p.steps[i];
      const int32_t idx = static_cast<int32_t>(i);
      const bool reads = s.kind != StepKind::kRecv, writes = s.kind != StepKind::kSend;
      if (reads) {
        if (absl::Status st = CheckBounds(r, idx, s.src, s.count); !st.ok()) return st;
      }
      if (writes) {
        if (absl::Status st = CheckBounds(r, idx, s.dst, s.count); !st.ok()) return st;
      }
      if (writes && s.dst.buf == BufferId::kInput && layouts_[r].input_read_only && s.count > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            At(r, idx), " writes ", Range(s.dst.buf, s.dst.offset, s.dst.offset + s.count),
            ": out of place, the input is the caller's read-only send buffer"));
      }
      if (s.finalize && s.kind != StepKind::kRecvReduce) {
        return absl::InvalidArgumentError(
            absl::StrCat(At(r, idx), " has finalize but does not reduce"));
      }
    }
  }
  return absl::OkStatus();
}

void Checker::WriteInputs() {
  for (int r = 0; r < req_.world_size; ++r) {
    const uint64_t size = layouts_[r].size[0];
    if (size == 0) continue;
    const uint32_t id = memory_.NewValue(RankSet::Single(r), r, -1, false);
    const Where w = Resolve(r, {BufferId::kInput, 0}, size);
    memory_.Write(w.buffer, w.begin, {Span{size, 0, id}}, -1);
  }
}

absl::Status Checker::CheckHazard(int rank, int32_t step, BufRef ref, uint64_t count,
                                  bool write) const {
  if (count == 0) return absl::OkStatus();
  const Where w = Resolve(rank, ref, count);
  const InFlight::Access* a = in_flight_[w.buffer].Conflict(w.begin, w.end, step, write);
  if (a == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      At(rank, step), (write ? " writes " : " reads "), Range(ref.buf, ref.offset, ref.offset + count),
      " while ", At(rank, a->step), " is posted and may still ", a->write ? "write" : "read",
      " it (missing dependency)"));
}

absl::Status Checker::ReadOrFail(int rank, int32_t step, BufRef ref, uint64_t count,
                                 Spans* out) const {
  const Where w = Resolve(rank, ref, count);
  uint64_t hole = 0;
  if (!memory_.Read(w.buffer, w.begin, w.end, out, &hole)) {
    const uint64_t at = ref.offset + (hole - w.begin);
    return absl::InvalidArgumentError(absl::StrCat(
        At(rank, step), " reads ", Range(ref.buf, ref.offset, ref.offset + count),
        " but element ", at, " was never written"));
  }
  return absl::OkStatus();
}

bool Checker::Ordered(int rank, int32_t earlier, int32_t later) {
  if (earlier < 0 || earlier == later) return true;
  // Dependencies point to earlier steps: steps before `earlier` cannot lead
  // to it, which keeps the search short.  A search that runs long is given
  // the benefit of the doubt.
  constexpr size_t kBudget = 4096;
  const std::vector<Step>& steps = plans_[rank].steps;
  if (visited_.size() < steps.size()) visited_.resize(steps.size(), 0);
  if (++stamp_ == 0) {  // wrapped: old marks could collide
    std::fill(visited_.begin(), visited_.end(), 0);
    stamp_ = 1;
  }
  search_.clear();
  search_.push_back(later);
  for (size_t i = 0; i < search_.size() && search_.size() < kBudget; ++i) {
    for (int32_t d : steps[search_[i]].deps) {
      if (d == earlier) return true;
      if (d > earlier && visited_[d] != stamp_) {
        visited_[d] = stamp_;
        search_.push_back(d);
      }
    }
  }
  return search_.size() >= kBudget;
}

absl::Status Checker::CheckReadOrder(int rank, int32_t step, BufRef ref, const Spans& read) {
  uint64_t pos = ref.offset;
  for (const Span& s : read) {
    if (!Ordered(rank, s.writer, step)) {
      return absl::InvalidArgumentError(absl::StrCat(
          At(rank, step), " reads ", Range(ref.buf, pos, pos + s.length), ", written by ",
          At(rank, s.writer), ", without depending on it: another schedule reads it first"));
    }
    pos += s.length;
  }
  return absl::OkStatus();
}

absl::Status Checker::CheckWriteOrder(int rank, int32_t step, BufRef ref,
                                      const SymbolicMemory::ReplacedList& replaced) {
  for (const SymbolicMemory::Replaced& r : replaced) {
    if (!Ordered(rank, r.writer, step)) {
      return absl::InvalidArgumentError(absl::StrCat(
          At(rank, step), " overwrites ", BufName(ref.buf), " data written by ",
          At(rank, r.writer), " without depending on it: another schedule writes in the other order"));
    }
    if (!Ordered(rank, r.reader, step)) {
      return absl::InvalidArgumentError(absl::StrCat(
          At(rank, step), " overwrites ", BufName(ref.buf), " data that ", At(rank, r.reader),
          " reads, without depending on it: another schedule overwrites it before the read"));
    }
  }
  return absl::OkStatus();
}

Spans Checker::TakeMessage(int from, int to, int32_t from_step) {
  return outboxes_[from].Take(to, from_step);
}

void Checker::Forget(int rank, int32_t step) {
  const Step& s = plans_[rank].steps[step];
  const Where w = Resolve(rank, s.kind == StepKind::kSend ? s.src : s.dst, s.count);
  in_flight_[w.buffer].Remove(w.begin, step, s.kind != StepKind::kSend);
}

absl::Status Checker::OnPosted(int rank, int32_t step) {
  const Step& s = plans_[rank].steps[step];
  if (s.count == 0 || s.kind == StepKind::kRecvReduce) return absl::OkStatus();
  const bool send = s.kind == StepKind::kSend;
  const BufRef ref = send ? s.src : s.dst;
  if (absl::Status st = CheckHazard(rank, step, ref, s.count, !send); !st.ok()) return st;
  if (send) {
    // The message holds what the buffer holds now; the hazard check keeps
    // the buffer unchanged until the send completes.
    Spans spans;
    if (absl::Status st = ReadOrFail(rank, step, ref, s.count, &spans); !st.ok()) return st;
    if (absl::Status st = CheckReadOrder(rank, step, ref, spans); !st.ok()) return st;
    const Where r = Resolve(rank, ref, s.count);
    memory_.MarkRead(r.buffer, r.begin, r.end, step);
    memory_.Ref(spans);
    outboxes_[rank].Push(s.peer, step, std::move(spans));
  }
  const Where w = Resolve(rank, ref, s.count);
  in_flight_[w.buffer].Add({w.begin, w.end, step, !send});
  return absl::OkStatus();
}

absl::Status Checker::Combine(int rank, int32_t step, const Spans& mine,
                              const Spans& received, Spans* out) {
  const Step& s = plans_[rank].steps[step];
  const int n = req_.world_size;
  const RankSet everyone = RankSet::Range(0, n);
  size_t i = 0, j = 0;
  uint64_t off_a = 0, off_b = 0, pos = 0;
  uint32_t last_a = 0, last_b = 0;
  while (i < mine.size() && j < received.size()) {
    const Span& a = mine[i];
    const Span& b = received[j];
    const uint64_t len = std::min(a.length - off_a, b.length - off_b);
    const uint64_t oa = a.origin + off_a, ob = b.origin + off_b;
    const SymbolicValue& va = memory_.value(a.value);
    const SymbolicValue& vb = memory_.value(b.value);
    // Built only for an error: formatting is most of a step's cost.
    auto where = [&] {
      return absl::StrCat(At(rank, step), " on ",
                          Range(s.dst.buf, s.dst.offset + pos, s.dst.offset + pos + len));
    };
    if (oa != ob) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), ": combines input element ", oa, " with element ", ob));
    }
    if (va.finalized || vb.finalized) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), ": reduces a value already finalized by ", Producer(va.finalized ? va : vb)));
    }
    RankSet common = RankSet::Intersection(va.ranks, vb.ranks);
    if (!common.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), ": double counts rank(s) ", common.ToString(), " (its operand holds ",
          va.ranks.ToString(), ", the message ", vb.ranks.ToString(), ")"));
    }
    RankSet sum = RankSet::Union(va.ranks, vb.ranks);
    if (s.finalize && !req_.average) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": finalizes (divides) but the operation is not an average"));
    }
    if (s.finalize && sum != everyone) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), ": finalizes a partial sum of ranks ", sum.ToString()));
    }
    // One new value per pair of operand values: a range reduced as a whole
    // stays one piece.
    if (!out->empty() && last_a == a.value && last_b == b.value &&
        out->back().origin + out->back().length == oa) {
      out->back().length += len;
    } else {
      const uint32_t id = memory_.NewValue(std::move(sum), rank, step, s.finalize);
      out->push_back({len, oa, id});
      last_a = a.value;
      last_b = b.value;
    }
    pos += len;
    off_a += len;
    off_b += len;
    if (off_a == a.length) {
      ++i;
      off_a = 0;
    }
    if (off_b == b.length) {
      ++j;
      off_b = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status Checker::OnDone(int rank, int32_t step, int32_t from_step) {
  const Step& s = plans_[rank].steps[step];
  switch (s.kind) {
    case StepKind::kSend:
      if (s.count > 0) Forget(rank, step);
      return absl::OkStatus();
    case StepKind::kRecv: {
      if (s.count > 0) Forget(rank, step);
      Spans spans = TakeMessage(s.peer, rank, from_step);
      const Where w = Resolve(rank, s.dst, s.count);
      SymbolicMemory::ReplacedList replaced;
      memory_.Write(w.buffer, w.begin, spans, step, &replaced);
      memory_.Unref(spans);
      return CheckWriteOrder(rank, step, s.dst, replaced);
    }
    case StepKind::kRecvReduce:
    case StepKind::kCopy: {
      if (absl::Status st = CheckHazard(rank, step, s.src, s.count, false); !st.ok()) return st;
      if (absl::Status st = CheckHazard(rank, step, s.dst, s.count, true); !st.ok()) return st;
      Spans mine;
      if (absl::Status st = ReadOrFail(rank, step, s.src, s.count, &mine); !st.ok()) return st;
      if (absl::Status st = CheckReadOrder(rank, step, s.src, mine); !st.ok()) return st;
      const Where r = Resolve(rank, s.src, s.count);
      memory_.MarkRead(r.buffer, r.begin, r.end, step);
      Spans result;
      if (s.kind == StepKind::kRecvReduce) {
        Spans received = TakeMessage(s.peer, rank, from_step);
        absl::Status st = Combine(rank, step, mine, received, &result);
        memory_.Unref(received);
        if (!st.ok()) return st;
      } else {
        result = std::move(mine);
      }
      const Where w = Resolve(rank, s.dst, s.count);
      SymbolicMemory::ReplacedList replaced;
      memory_.Write(w.buffer, w.begin, result, step, &replaced);
      return CheckWriteOrder(rank, step, s.dst, replaced);
    }
  }
  return absl::OkStatus();
}

// Checks one rank's output; `reference` holds the first checked rank's
// output as (end position, value) runs, for the produced-once check.
absl::Status Checker::CheckOutputOf(int rank,
                                    std::vector<std::pair<uint64_t, uint32_t>>* reference) {
  const Collective c = req_.collective;
  const int n = req_.world_size;
  const uint64_t count = req_.count;
  const uint64_t size = layouts_[rank].size[1];
  const Where w = Resolve(rank, {BufferId::kOutput, 0}, size);
  Spans spans;
  uint64_t hole = 0;
  if (!memory_.Read(w.buffer, w.begin, w.end, &spans, &hole)) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, " output element ",
                                                   hole - w.begin, " is never written"));
  }
  const bool fill_reference = reference->empty();
  size_t ref_i = 0;
  uint64_t pos = 0;
  for (const Span& span : spans) {
    uint64_t left = span.length, origin = span.origin;
    while (left > 0) {
      // What this element should hold; all-gather changes source every
      // `count` elements.
      RankSet expected = RankSet::Range(0, n);
      uint64_t want_origin = pos, len = left;
      if (c == Collective::kReduceScatter) want_origin = rank * count + pos;
      if (c == Collective::kBroadcast) expected = RankSet::Single(req_.root);
      if (c == Collective::kAllGather) {
        const uint64_t block = pos / count;
        expected = RankSet::Single(static_cast<int>(block));
        want_origin = pos - block * count;
        len = std::min(left, (block + 1) * count - pos);
      }
      const SymbolicValue& v = memory_.value(span.value);
      const std::string where =
          absl::StrCat("rank ", rank, " ", Range(BufferId::kOutput, pos, pos + len));
      if (v.ranks != expected) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, " holds the inputs of ranks ", v.ranks.ToString(), " (from ", Producer(v),
            "), expected ", expected.ToString(), "; missing ",
            RankSet::Difference(expected, v.ranks).ToString(), ", extra ",
            RankSet::Difference(v.ranks, expected).ToString()));
      }
      if (origin != want_origin) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, " holds input element ", origin, ", expected element ", want_origin));
      }
      if (Reduces(c) && req_.average && n > 1 && !v.finalized) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, " is the sum, never finalized (average needs one division)"));
      }
      if (fill_reference) {
        reference->emplace_back(pos + len, span.value);
      } else {
        // Walk the reference alongside; every element must be the same value.
        uint64_t at = pos;
        while (at < pos + len) {
          while ((*reference)[ref_i].first <= at) ++ref_i;
          const uint32_t ref_value = (*reference)[ref_i].second;
          const uint64_t stop = std::min(pos + len, (*reference)[ref_i].first);
          if (ref_value != span.value) {
            return absl::InvalidArgumentError(absl::StrCat(
                Range(BufferId::kOutput, at, stop), ": rank ", rank, " holds the value of ",
                Producer(v), " but another rank holds that of ",
                Producer(memory_.value(ref_value)),
                ": a final value is computed more than once"));
          }
          at = stop;
        }
      }
      pos += len;
      origin += len;
      left -= len;
    }
  }
  return absl::OkStatus();
}

// A reduce's non-root gets its send buffer back as it was.
absl::Status Checker::CheckInputKept(int rank) {
  const uint64_t size = layouts_[rank].size[0];
  const Where w = Resolve(rank, {BufferId::kInput, 0}, size);
  Spans spans;
  uint64_t hole = 0;
  memory_.Read(w.buffer, w.begin, w.end, &spans, &hole);  // written at the start
  uint64_t pos = 0;
  for (const Span& span : spans) {
    const SymbolicValue& v = memory_.value(span.value);
    if (v.step >= 0 || v.rank != rank || span.origin != pos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rank ", rank, " (not the root) ends with ", Range(BufferId::kInput, pos, pos + span.length),
          " changed by ", Producer(v), ": a reduce must leave a non-root's send buffer as it was"));
    }
    pos += span.length;
  }
  return absl::OkStatus();
}

absl::Status Checker::CheckOutputs() {
  const Collective c = req_.collective;
  if (c == Collective::kTransfer) return absl::OkStatus();
  if (c == Collective::kReduce) {
    std::vector<std::pair<uint64_t, uint32_t>> unused;
    if (absl::Status st = CheckOutputOf(req_.root, &unused); !st.ok()) return st;
    for (int r = 0; r < req_.world_size; ++r) {
      if (r == req_.root) continue;
      if (absl::Status st = CheckInputKept(r); !st.ok()) return st;
    }
    return absl::OkStatus();
  }
  const bool same_everywhere = c != Collective::kReduceScatter;
  std::vector<std::pair<uint64_t, uint32_t>> reference;
  for (int r = 0; r < req_.world_size; ++r) {
    if (!same_everywhere) reference.clear();
    if (absl::Status st = CheckOutputOf(r, &reference); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPlansSymbolically(const std::vector<Plan>& plans,
                                    const PlanRequest& request) {
  Checker checker(plans, request);
  if (absl::Status s = checker.Validate(); !s.ok()) return s;
  checker.WriteInputs();
  UniformNet net(request.world_size);
  // Timing does not matter here, only a legal order: no memory or compute
  // terms keeps the simulation to the network.
  CostParams cost;
  cost.gamma_Bps = 0;
  cost.mem_Bps = 0;
  absl::StatusOr<SimResult> run = Simulate(plans, net, cost, kElemSize, &checker);
  if (!run.ok()) return run.status();
  return checker.CheckOutputs();
}

}  // namespace meridian::planner
