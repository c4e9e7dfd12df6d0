// Runs the plans of every rank of one operation against each other in
// memory, on int64 data, under the executor's rules
// (collectives/executor.cc):
//   - the k-th send from A to B and the k-th receive at B from A are one
//     message, of equal length;
//   - sends to a peer are posted in message order, each once its deps are
//     complete; receives from a peer likewise;
//   - a receive-reduce also needs one of kStagingSlots (plan.h) staging slots, held
//     from posting until its data arrived and was reduced;
//   - a message is delivered once both ends are posted; then both steps
//     complete.
// Which enabled event happens next is drawn from a seeded generator, so
// different seeds explore different interleavings: even seeds pick
// uniformly among the enabled events; odd seeds give every (event kind,
// rank, peer) a fixed random priority and always run the highest enabled
// one, which starves some peers for long stretches (the schedules that
// expose staging-slot exhaustion, which uniform picking almost never
// produces).  On top of the rules it
// checks buffer hazards as the real transports expose them: a posted send
// may read its source at any time until delivery and a posted receive may
// write its target at any time until delivery, so nothing else may write a
// posted send's source, nor touch a posted receive's target, meanwhile.
//
// Every element carries its origin (which rank's input, or which
// receive-reduce step computed it), so a test can check that a final value
// was computed once and every other rank holds a copy of those bytes.
#ifndef MERIDIAN_TESTS_UNIT_PLAN_INTERPRETER_H_
#define MERIDIAN_TESTS_UNIT_PLAN_INTERPRETER_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "planner/plan.h"

namespace meridian::planner::interp {

enum class Op { kSum, kMax, kAvg };

inline const char* OpName(Op op) {
  return op == Op::kSum ? "sum" : op == Op::kMax ? "max" : "avg";
}

// How a rank's input and output buffers overlap (the C API's in-place
// layouts): separate, the input a window of the output (all-reduce,
// broadcast, reduce, all-gather in place), or the output a window of the
// input (reduce-scatter in place).
enum class Layout { kSeparate, kInputInsideOutput, kOutputInsideInput };

struct RankSetup {
  Plan plan;
  std::vector<int64_t> input;  // empty: no input buffer (NULL)
  uint64_t output_elems = 0;
  Layout layout = Layout::kSeparate;
  uint64_t alias_offset = 0;  // where the inner buffer starts in the outer one
};

// Where a value came from.
struct Origin {
  int32_t rank = -1;   // -1: never written
  int32_t step = -1;   // -1: `rank`'s input; else its receive-reduce step
  uint64_t index = 0;  // input element, or element within the step
  bool operator==(const Origin& o) const {
    return rank == o.rank && step == o.step && index == o.index;
  }
  bool operator!=(const Origin& o) const { return !(*this == o); }
};

inline std::string Describe(const Origin& o) {
  std::ostringstream os;
  if (o.rank < 0) return "never written";
  if (o.step < 0) {
    os << "input of rank " << o.rank << " [" << o.index << "]";
  } else {
    os << "rank " << o.rank << " step #" << o.step << " [" << o.index << "]";
  }
  return os.str();
}

class PlanInterpreter {
 public:
  PlanInterpreter(std::vector<RankSetup> setups, Op op)
      : n_(static_cast<int>(setups.size())), op_(op) {
    ranks_.resize(n_);
    for (int r = 0; r < n_; ++r) Init(r, std::move(setups[r]));
    posted_sends_.resize(static_cast<size_t>(n_) * n_);
    posted_recvs_.resize(static_cast<size_t>(n_) * n_);
    queued_send_.assign(static_cast<size_t>(n_) * n_, 0);
    queued_recv_.assign(static_cast<size_t>(n_) * n_, 0);
    queued_deliver_.assign(static_cast<size_t>(n_) * n_, 0);
  }

  // Runs until every step completed or nothing can happen; true when all
  // completed without error.  Call once.
  bool Run(uint64_t seed) {
    if (!CheckStatically()) return false;
    rng_.seed(seed);
    seed_ = seed;
    by_priority_ = seed % 2 == 1;
    for (int r = 0; r < n_; ++r) {
      const Plan& p = ranks_[r].plan;
      for (size_t i = 0; i < p.steps.size(); ++i) {
        if (p.steps[i].kind == StepKind::kCopy && ranks_[r].pending[i] == 0) {
          PushEvent({kCopy, r, static_cast<int32_t>(i)});
        }
      }
      for (int peer : p.sends_to.Peers()) QueueSend(r, peer);
      for (int peer : p.recvs_from.Peers()) QueueRecv(r, peer);
    }
    while (HasEvents() && error_.empty()) {
      const Event ev = PopEvent();
      switch (ev.kind) {
        case kCopy: RunCopy(ev.rank, ev.arg); break;
        case kPostSend: PostSend(ev.rank, ev.arg); break;
        case kPostRecv: PostRecv(ev.rank, ev.arg); break;
        case kDeliver: Deliver(ev.rank, ev.arg); break;
      }
    }
    if (!error_.empty()) return false;
    for (int r = 0; r < n_; ++r) {
      if (ranks_[r].completed != ranks_[r].plan.steps.size()) {
        Fail(DescribeStuck(r));
        return false;
      }
    }
    return true;
  }

  const std::string& error() const { return error_; }
  int world_size() const { return n_; }
  const Plan& plan(int r) const { return ranks_[r].plan; }

  std::vector<int64_t> Output(int r) const {
    const RankState& s = ranks_[r];
    const Storage& st = s.layout == Layout::kOutputInsideInput ? s.mem[0] : s.mem[1];
    const uint64_t base = s.layout == Layout::kOutputInsideInput ? s.alias_offset : 0;
    return {st.value.begin() + base, st.value.begin() + base + s.output_elems};
  }
  Origin OutputOrigin(int r, uint64_t i) const {
    const RankState& s = ranks_[r];
    if (s.layout == Layout::kOutputInsideInput) return s.mem[0].origin[s.alias_offset + i];
    return s.mem[1].origin[i];
  }
  // Whether `o` was computed by a finalizing (kAvg division) step.
  bool Finalized(const Origin& o) const {
    return o.rank >= 0 && o.step >= 0 && ranks_[o.rank].plan.steps[o.step].finalize;
  }
  // Elements divided by a finalizing step, over all ranks.
  uint64_t finalized_elements() const { return finalized_elements_; }

 private:
  enum EventKind : uint8_t { kCopy, kPostSend, kPostRecv, kDeliver };
  struct Event {
    EventKind kind;
    int32_t rank;  // kDeliver: the sender
    int32_t arg;   // step (copy), peer (post), receiver (deliver)
  };
  struct Storage {
    std::vector<int64_t> value;
    std::vector<Origin> origin;
    std::vector<uint16_t> readers, writers;  // posted sends / receives
    void Resize(uint64_t elems) {
      value.assign(elems, -7777);
      origin.assign(elems, Origin{});
      readers.assign(elems, 0);
      writers.assign(elems, 0);
    }
  };
  struct RankState {
    Plan plan;
    Layout layout = Layout::kSeparate;
    uint64_t alias_offset = 0, input_elems = 0, output_elems = 0;
    Storage mem[3];  // input storage, output storage, scratch
    std::vector<uint8_t> pending;
    std::vector<size_t> next_send, next_recv;  // per peer
    std::vector<int> slot_waiters;             // peers whose head waits for a slot
    int free_slots = kStagingSlots;
    size_t completed = 0;
  };
  struct Place {
    int store;
    uint64_t offset;
  };

  void Init(int r, RankSetup setup) {
    RankState& s = ranks_[r];
    s.plan = std::move(setup.plan);
    s.layout = setup.layout;
    s.alias_offset = setup.alias_offset;
    s.input_elems = setup.input.size();
    s.output_elems = setup.output_elems;
    s.mem[0].Resize(s.layout == Layout::kInputInsideOutput ? 0 : s.input_elems);
    s.mem[1].Resize(s.layout == Layout::kOutputInsideInput ? 0 : s.output_elems);
    s.mem[2].Resize(s.plan.scratch_elems);
    Storage& in = s.mem[s.layout == Layout::kInputInsideOutput ? 1 : 0];
    const uint64_t base = s.layout == Layout::kInputInsideOutput ? s.alias_offset : 0;
    for (uint64_t i = 0; i < s.input_elems; ++i) {
      in.value[base + i] = setup.input[i];
      in.origin[base + i] = {r, -1, i};
    }
    s.pending = s.plan.dep_count;
    s.next_send.assign(n_, 0);
    s.next_recv.assign(n_, 0);
  }

  void Fail(const std::string& msg) {
    if (error_.empty()) error_ = msg;
  }

  std::string StepName(int r, int32_t idx) const {
    static const char* kKinds[] = {"send", "recv", "recv_reduce", "copy"};
    const Step& s = ranks_[r].plan.steps[idx];
    std::ostringstream os;
    os << "rank " << r << " step #" << idx << " (" << kKinds[static_cast<int>(s.kind)];
    if (s.peer >= 0) os << " peer " << s.peer;
    os << " x" << s.count << ")";
    return os.str();
  }

  // Pairing, lengths, peers and deps, before running anything.
  bool CheckStatically() {
    for (int r = 0; r < n_; ++r) {
      const Plan& p = ranks_[r].plan;
      if (p.world_size != n_ || p.rank != r) {
        Fail("plan of rank " + std::to_string(r) + " is for another rank or world");
        return false;
      }
      for (size_t i = 0; i < p.steps.size(); ++i) {
        const Step& s = p.steps[i];
        for (int32_t d : s.deps) {
          if (d < -1 || d >= static_cast<int32_t>(i)) {
            Fail(StepName(r, i) + " depends on a step that is not earlier");
            return false;
          }
        }
        if (s.kind != StepKind::kCopy && (s.peer < 0 || s.peer >= n_ || s.peer == r)) {
          Fail(StepName(r, i) + " names a bad peer");
          return false;
        }
      }
    }
    for (int a = 0; a < n_; ++a) {
      for (int b = 0; b < n_; ++b) {
        if (a == b) continue;
        const auto& sends = ranks_[a].plan.sends_to[b];
        const auto& recvs = ranks_[b].plan.recvs_from[a];
        if (sends.size() != recvs.size()) {
          std::ostringstream os;
          os << "rank " << a << " sends " << sends.size() << " messages to rank " << b
             << ", which receives " << recvs.size();
          Fail(os.str());
          return false;
        }
        for (size_t k = 0; k < sends.size(); ++k) {
          const uint64_t sc = ranks_[a].plan.steps[sends[k]].count;
          const uint64_t rc = ranks_[b].plan.steps[recvs[k]].count;
          if (sc != rc) {
            std::ostringstream os;
            os << "message " << k << " from rank " << a << " to rank " << b << ": "
               << StepName(a, sends[k]) << " sends " << sc << ", " << StepName(b, recvs[k])
               << " expects " << rc;
            Fail(os.str());
            return false;
          }
        }
      }
    }
    return true;
  }

  // Resolves a buffer reference (with bounds check) to a storage place.
  bool Resolve(int r, int32_t idx, const BufRef& ref, uint64_t count, Place* out) {
    const RankState& s = ranks_[r];
    uint64_t limit = 0;
    switch (ref.buf) {
      case BufferId::kInput:
        limit = s.input_elems;
        *out = s.layout == Layout::kInputInsideOutput ? Place{1, s.alias_offset + ref.offset}
                                                       : Place{0, ref.offset};
        break;
      case BufferId::kOutput:
        limit = s.output_elems;
        *out = s.layout == Layout::kOutputInsideInput ? Place{0, s.alias_offset + ref.offset}
                                                       : Place{1, ref.offset};
        break;
      case BufferId::kScratch:
        limit = s.plan.scratch_elems;
        *out = Place{2, ref.offset};
        break;
    }
    if (count > 0 && (ref.offset > limit || count > limit - ref.offset)) {
      Fail(StepName(r, idx) + " reaches past the end of its buffer");
      return false;
    }
    return true;
  }

  // Window bookkeeping: a posted send reads its source until delivery; a
  // posted receive writes its target until delivery.
  bool OpenWindow(int r, int32_t idx, const Place& p, uint64_t count, bool write) {
    Storage& st = ranks_[r].mem[p.store];
    for (uint64_t k = 0; k < count; ++k) {
      const uint64_t e = p.offset + k;
      if (st.writers[e] > 0 || (write && st.readers[e] > 0)) {
        Fail(StepName(r, idx) + " is posted over data that an in-flight message still " +
             (st.writers[e] > 0 ? "writes" : "reads"));
        return false;
      }
      ++(write ? st.writers[e] : st.readers[e]);
    }
    return true;
  }
  void CloseWindow(int r, const Place& p, uint64_t count, bool write) {
    Storage& st = ranks_[r].mem[p.store];
    for (uint64_t k = 0; k < count; ++k) --(write ? st.writers[p.offset + k] : st.readers[p.offset + k]);
  }
  // An instantaneous access (copy, reduction, delivery into the target).
  bool Access(int r, int32_t idx, const Place& p, uint64_t count, bool write) {
    const Storage& st = ranks_[r].mem[p.store];
    for (uint64_t k = 0; k < count; ++k) {
      const uint64_t e = p.offset + k;
      if (st.writers[e] > 0 || (write && st.readers[e] > 0)) {
        Fail(StepName(r, idx) + (write ? " writes" : " reads") +
             " data that an in-flight message still " + (st.writers[e] > 0 ? "writes" : "reads"));
        return false;
      }
    }
    return true;
  }

  void Complete(int r, int32_t idx) {
    RankState& s = ranks_[r];
    ++s.completed;
    const Plan& p = s.plan;
    for (int32_t i = p.dependents_begin[idx]; i < p.dependents_begin[idx + 1]; ++i) {
      const int32_t d = p.dependents[i];
      if (--s.pending[d] != 0) continue;
      const Step& st = p.steps[d];
      if (st.kind == StepKind::kCopy) {
        PushEvent({kCopy, r, d});
      } else if (st.kind == StepKind::kSend) {
        QueueSend(r, st.peer);
      } else {
        QueueRecv(r, st.peer);
      }
    }
  }

  void QueueSend(int r, int peer) {
    uint8_t& q = queued_send_[Pair(r, peer)];
    if (!q) PushEvent({kPostSend, r, peer});
    q = 1;
  }
  void QueueRecv(int r, int peer) {
    uint8_t& q = queued_recv_[Pair(r, peer)];
    if (!q) PushEvent({kPostRecv, r, peer});
    q = 1;
  }
  void QueueDeliver(int from, int to) {
    uint8_t& q = queued_deliver_[Pair(from, to)];
    if (q || posted_sends_[Pair(from, to)].empty() || posted_recvs_[Pair(to, from)].empty()) return;
    PushEvent({kDeliver, from, to});
    q = 1;
  }
  bool HasEvents() const { return !events_.empty() || !prioritized_.empty(); }
  void PushEvent(const Event& ev) {
    if (!by_priority_) {
      events_.push_back(ev);
      return;
    }
    // splitmix64 of (seed, event identity): fixed for the run.
    uint64_t z = seed_ ^ (static_cast<uint64_t>(ev.kind) << 56) ^
                 (static_cast<uint64_t>(ev.rank) << 28) ^ static_cast<uint64_t>(ev.arg);
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    prioritized_.push_back({z ^ (z >> 31), ev});
    std::push_heap(prioritized_.begin(), prioritized_.end(), ByPriority);
  }
  Event PopEvent() {
    if (!by_priority_) {
      const size_t pick = rng_() % events_.size();
      const Event ev = events_[pick];
      events_[pick] = events_.back();
      events_.pop_back();
      return ev;
    }
    std::pop_heap(prioritized_.begin(), prioritized_.end(), ByPriority);
    const Event ev = prioritized_.back().second;
    prioritized_.pop_back();
    return ev;
  }
  static bool ByPriority(const std::pair<uint64_t, Event>& a, const std::pair<uint64_t, Event>& b) {
    return a.first < b.first;
  }

  size_t Pair(int a, int b) const { return static_cast<size_t>(a) * n_ + b; }

  void RunCopy(int r, int32_t idx) {
    const Step& st = ranks_[r].plan.steps[idx];
    Place src, dst;
    if (!Resolve(r, idx, st.src, st.count, &src) || !Resolve(r, idx, st.dst, st.count, &dst)) return;
    // The executor skips a copy onto itself (in-place layouts).
    if (src.store != dst.store || src.offset != dst.offset) {
      if (!Access(r, idx, src, st.count, false) || !Access(r, idx, dst, st.count, true)) return;
      Storage& from = ranks_[r].mem[src.store];
      Storage& to = ranks_[r].mem[dst.store];
      std::vector<int64_t> v(from.value.begin() + src.offset,
                             from.value.begin() + src.offset + st.count);
      std::vector<Origin> o(from.origin.begin() + src.offset,
                            from.origin.begin() + src.offset + st.count);
      std::copy(v.begin(), v.end(), to.value.begin() + dst.offset);
      std::copy(o.begin(), o.end(), to.origin.begin() + dst.offset);
    }
    Complete(r, idx);
  }

  void PostSend(int r, int peer) {
    queued_send_[Pair(r, peer)] = 0;
    RankState& s = ranks_[r];
    const auto& list = s.plan.sends_to[peer];
    if (s.next_send[peer] >= list.size()) return;
    const int32_t idx = list[s.next_send[peer]];
    if (s.pending[idx] != 0) return;
    const Step& st = s.plan.steps[idx];
    Place src;
    if (!Resolve(r, idx, st.src, st.count, &src) || !OpenWindow(r, idx, src, st.count, false)) return;
    ++s.next_send[peer];
    posted_sends_[Pair(r, peer)].push_back(idx);
    QueueSend(r, peer);
    QueueDeliver(r, peer);
  }

  void PostRecv(int r, int peer) {
    queued_recv_[Pair(r, peer)] = 0;
    RankState& s = ranks_[r];
    const auto& list = s.plan.recvs_from[peer];
    if (s.next_recv[peer] >= list.size()) return;
    const int32_t idx = list[s.next_recv[peer]];
    if (s.pending[idx] != 0) return;
    const Step& st = s.plan.steps[idx];
    if (st.kind == StepKind::kRecvReduce) {
      if (s.free_slots == 0) {
        if (std::find(s.slot_waiters.begin(), s.slot_waiters.end(), peer) == s.slot_waiters.end()) {
          s.slot_waiters.push_back(peer);
        }
        return;
      }
      --s.free_slots;
    } else {
      Place dst;
      if (!Resolve(r, idx, st.dst, st.count, &dst) || !OpenWindow(r, idx, dst, st.count, true)) return;
    }
    ++s.next_recv[peer];
    posted_recvs_[Pair(r, peer)].push_back(idx);
    QueueRecv(r, peer);
    QueueDeliver(peer, r);
  }

  void Deliver(int from, int to) {
    queued_deliver_[Pair(from, to)] = 0;
    auto& sends = posted_sends_[Pair(from, to)];
    auto& recvs = posted_recvs_[Pair(to, from)];
    if (sends.empty() || recvs.empty()) return;
    const int32_t sidx = sends.front(), ridx = recvs.front();
    sends.pop_front();
    recvs.pop_front();
    const Step& ss = ranks_[from].plan.steps[sidx];
    const Step& rs = ranks_[to].plan.steps[ridx];
    const uint64_t count = rs.count;
    Place src, dst;
    if (!Resolve(from, sidx, ss.src, count, &src) || !Resolve(to, ridx, rs.dst, count, &dst)) return;
    CloseWindow(from, src, count, false);
    // Message contents, as read from the sender at delivery.
    const Storage& sst = ranks_[from].mem[src.store];
    std::vector<int64_t> msg(sst.value.begin() + src.offset, sst.value.begin() + src.offset + count);
    std::vector<Origin> msg_origin(sst.origin.begin() + src.offset,
                                   sst.origin.begin() + src.offset + count);
    RankState& rcv = ranks_[to];
    if (rs.kind == StepKind::kRecv) {
      CloseWindow(to, dst, count, true);
      if (!Access(to, ridx, dst, count, true)) return;
      std::copy(msg.begin(), msg.end(), rcv.mem[dst.store].value.begin() + dst.offset);
      std::copy(msg_origin.begin(), msg_origin.end(), rcv.mem[dst.store].origin.begin() + dst.offset);
    } else {
      Place local;
      if (!Resolve(to, ridx, rs.src, count, &local)) return;
      if (!Access(to, ridx, local, count, false) || !Access(to, ridx, dst, count, true)) return;
      const std::vector<int64_t> mine(rcv.mem[local.store].value.begin() + local.offset,
                                      rcv.mem[local.store].value.begin() + local.offset + count);
      Storage& out = rcv.mem[dst.store];
      for (uint64_t k = 0; k < count; ++k) {
        int64_t v = op_ == Op::kMax ? std::max(mine[k], msg[k]) : mine[k] + msg[k];
        if (rs.finalize) v /= n_;
        out.value[dst.offset + k] = v;
        out.origin[dst.offset + k] = {to, ridx, k};
      }
      if (rs.finalize) finalized_elements_ += count;
      ++rcv.free_slots;
      for (int p : rcv.slot_waiters) QueueRecv(to, p);
      rcv.slot_waiters.clear();
    }
    Complete(from, sidx);
    Complete(to, ridx);
    QueueDeliver(from, to);
  }

  std::string DescribeStuck(int r) const {
    const RankState& s = ranks_[r];
    std::ostringstream os;
    os << "deadlock: rank " << r << " completed " << s.completed << " of "
       << s.plan.steps.size() << " steps;";
    int shown = 0;
    for (int peer = 0; peer < n_ && shown < 4; ++peer) {
      const auto& recvs = s.plan.recvs_from[peer];
      if (s.next_recv[peer] < recvs.size() || !posted_recvs_[Pair(r, peer)].empty()) {
        os << " receives from " << peer << ": posted " << s.next_recv[peer] << "/" << recvs.size()
           << ", undelivered " << posted_recvs_[Pair(r, peer)].size() << ";";
        ++shown;
      }
    }
    os << " free staging slots " << s.free_slots;
    return os.str();
  }

  int n_;
  Op op_;
  std::vector<RankState> ranks_;
  std::vector<std::deque<int32_t>> posted_sends_;  // [from*n+to]
  std::vector<std::deque<int32_t>> posted_recvs_;  // [to*n+from]
  std::vector<uint8_t> queued_send_, queued_recv_, queued_deliver_;
  std::vector<Event> events_;                             // uniform picking
  std::vector<std::pair<uint64_t, Event>> prioritized_;   // heap, by priority
  std::mt19937_64 rng_;
  uint64_t seed_ = 0;
  bool by_priority_ = false;
  uint64_t finalized_elements_ = 0;
  std::string error_;
};

}  // namespace meridian::planner::interp

#endif  // MERIDIAN_TESTS_UNIT_PLAN_INTERPRETER_H_
