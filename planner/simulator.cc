#include "planner/simulator.h"

#include <algorithm>
#include <limits>
#include <queue>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace meridian::planner {
namespace {

constexpr uint8_t kDone = 0xFF;  // pending-deps marker of a completed step

const char* KindName(StepKind kind) {
  switch (kind) {
    case StepKind::kSend: return "send";
    case StepKind::kRecv: return "recv";
    case StepKind::kRecvReduce: return "recv_reduce";
    case StepKind::kCopy: return "copy";
  }
  return "?";
}

// Message index of `step` in its peer list (lists ascend by step index).
uint32_t MessageIndex(const std::vector<int32_t>& list, int32_t step) {
  return static_cast<uint32_t>(std::lower_bound(list.begin(), list.end(), step) - list.begin());
}

class Engine {
 public:
  Engine(const std::vector<Plan>& plans, const LinkModel& net, const CostParams& cost,
         size_t elem_size, StepObserver* observer)
      : plans_(plans), net_(net), cost_(cost), elem_size_(elem_size), observer_(observer),
        network_(net, cost) {}

  absl::Status Init();
  absl::Status Run();
  SimResult Result();

 private:
  // The posting cursor of one peer list of one rank.
  struct Cursor {
    int peer;
    int32_t channel;
    const std::vector<int32_t>* steps;
    uint32_t next = 0;  // first step not yet posted
    bool waits_for_slot = false;
  };
  struct Task {
    int32_t step;
    int32_t from_step;  // receive-reduce: the matching send
    uint64_t count;
    bool reduce;
  };
  // What the hot path needs of a step, packed so that it stays in cache
  // (a Step is a cache line; a 1024-rank ring has millions): kind in the
  // low two bits, the index of its peer's cursor above.
  static uint32_t PackInfo(StepKind kind, int32_t cursor) {
    return static_cast<uint32_t>(kind) | (static_cast<uint32_t>(cursor) << 2);
  }
  static StepKind InfoKind(uint32_t info) { return static_cast<StepKind>(info & 3); }
  static int32_t InfoCursor(uint32_t info) { return static_cast<int32_t>(info >> 2); }
  struct RankState {
    std::vector<uint8_t> pending;  // deps left, kDone when completed
    std::vector<uint32_t> info;    // PackInfo per step
    std::vector<Cursor> sends, recvs;  // ascending peer
    int free_slots = kStagingSlots;
    std::vector<int32_t> slot_waiters;  // recv cursors
    std::vector<Task> compute_queue;  // FIFO from compute_head
    size_t compute_head = 0;
    bool computing = false;
    Task current{-1, -1, 0, false};
    double compute_busy_s = 0, compute_bytes = 0;
    size_t completed = 0;
    double finish_s = 0;
  };
  // One message, from both plans, in the order it is used.
  struct Message {
    int32_t send_step;
    int32_t recv_step;
    uint64_t count : 63;
    uint64_t reduce : 1;
  };
  // Messages from one rank to another.
  struct Channel {
    std::vector<Message> messages;
    int from, to;
    int32_t send_cursor, recv_cursor;
    int32_t path = -1;
    double latency = 0;
    uint32_t sends_posted = 0, recvs_posted = 0;
    uint32_t matched = 0;        // messages both ends posted
    uint32_t ready = 0;          // messages whose alpha has elapsed
    uint32_t next_transmit = 0;  // first message not fully transmitted
    bool transmitting = false;
  };
  enum class EventKind : uint8_t { kReady, kArrive, kComputeDone };
  struct Event {
    double time;
    uint64_t seq;
    EventKind kind;
    int32_t a;
    uint32_t b;
    bool operator>(const Event& o) const {
      return time != o.time ? time > o.time : seq > o.seq;
    }
  };

  absl::Status ValidatePlan(int r) const;
  int32_t ChannelFor(int from, int to);
  absl::Status PairMessages(Channel& ch) const;

  void Schedule(double time, EventKind kind, int32_t a, uint32_t b = 0) {
    events_.push({time, seq_++, kind, a, b});
  }
  void Observe(absl::Status s) {
    if (!s.ok() && status_.ok()) status_ = std::move(s);
  }
  int32_t CursorOf(const std::vector<Cursor>& cursors, int peer) const;
  double Bytes(uint64_t count) const { return static_cast<double>(count * elem_size_); }

  void StepDone(int rank, int32_t step, double now);
  void PumpSends(int rank, int32_t cursor, double now);
  void PumpRecvs(int rank, int32_t cursor, double now);
  void MessagePosted(int32_t channel, double now);
  void TryTransmit(int32_t channel, double now);
  void TransmitDone(int32_t channel, double now);
  void Arrive(int32_t channel, uint32_t msg, double now);
  void StartCompute(int rank, double now);
  void ComputeDone(int rank, double now);

  std::string DescribeStep(int rank, int32_t step) const;
  std::string ExplainDeadlock() const;

  const std::vector<Plan>& plans_;
  const LinkModel& net_;
  CostParams cost_;
  size_t elem_size_;
  StepObserver* observer_;
  FlowNetwork network_;
  std::vector<RankState> ranks_;
  std::vector<Channel> channels_;
  std::unordered_map<uint64_t, int32_t> channel_index_;
  std::vector<int32_t> flow_channel_;  // FlowNetwork flow id -> channel
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t seq_ = 0;
  uint64_t messages_ = 0;
  double message_bytes_ = 0;
  absl::Status status_;
};

absl::Status Engine::ValidatePlan(int r) const {
  const Plan& p = plans_[r];
  const int n = static_cast<int>(plans_.size());
  if (p.rank != r || p.world_size != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plans[", r, "] is for rank ", p.rank, " of ", p.world_size, "; expected rank ", r,
        " of ", n));
  }
  if (p.dep_count.size() != p.steps.size() ||
      p.dependents_begin.size() != p.steps.size() + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan of rank ", r, " is not finalized (Plan::Finalize)"));
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    if (s.kind != StepKind::kCopy && (s.peer < 0 || s.peer >= n || s.peer == r)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rank ", r, " step ", i, " (", KindName(s.kind), ") names peer ", s.peer));
    }
    for (int32_t d : s.deps) {
      if (d < -1 || d >= static_cast<int32_t>(i)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "rank ", r, " step ", i, " depends on step ", d, ", not an earlier step"));
      }
    }
  }
  return absl::OkStatus();
}

int32_t Engine::ChannelFor(int from, int to) {
  const uint64_t key = (static_cast<uint64_t>(from) << 32) | static_cast<uint32_t>(to);
  auto [it, inserted] = channel_index_.emplace(key, static_cast<int32_t>(channels_.size()));
  if (inserted) {
    Channel ch;
    ch.from = from;
    ch.to = to;
    ch.send_cursor = CursorOf(ranks_[from].sends, to);
    ch.recv_cursor = CursorOf(ranks_[to].recvs, from);
    channels_.push_back(ch);
  }
  return it->second;
}

int32_t Engine::CursorOf(const std::vector<Cursor>& cursors, int peer) const {
  auto it = std::lower_bound(cursors.begin(), cursors.end(), peer,
                             [](const Cursor& c, int p) { return c.peer < p; });
  return it != cursors.end() && it->peer == peer ? static_cast<int32_t>(it - cursors.begin())
                                                  : -1;
}

absl::Status Engine::PairMessages(Channel& ch) const {
  static const std::vector<int32_t> kNone;
  const Plan& sender = plans_[ch.from];
  const Plan& receiver = plans_[ch.to];
  const auto& sends = ch.send_cursor >= 0 ? *ranks_[ch.from].sends[ch.send_cursor].steps : kNone;
  const auto& recvs = ch.recv_cursor >= 0 ? *ranks_[ch.to].recvs[ch.recv_cursor].steps : kNone;
  const size_t common = std::min(sends.size(), recvs.size());
  ch.messages.reserve(common);
  for (size_t k = 0; k < common; ++k) {
    const Step& s = sender.steps[sends[k]];
    const Step& r = receiver.steps[recvs[k]];
    ch.messages.push_back({sends[k], recvs[k], s.count, r.kind == StepKind::kRecvReduce});
    if (s.count != r.count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pairing: message ", k, " from rank ", ch.from, " to rank ", ch.to, ": rank ",
          ch.from, " step ", sends[k], " sends ", s.count, " elements but rank ", ch.to,
          " step ", recvs[k], " receives ", r.count));
    }
  }
  if (sends.size() > common) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pairing: rank ", ch.from, " step ", sends[common], " (send to rank ", ch.to,
        ", message ", common, ") has no matching receive: rank ", ch.to, " receives ",
        recvs.size(), " messages from rank ", ch.from));
  }
  if (recvs.size() > common) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pairing: rank ", ch.to, " step ", recvs[common], " (", KindName(receiver.steps[recvs[common]].kind),
        " from rank ", ch.from, ", message ", common, ") has no matching send: rank ",
        ch.from, " sends ", sends.size(), " messages to rank ", ch.to));
  }
  return absl::OkStatus();
}

absl::Status Engine::Init() {
  const int n = static_cast<int>(plans_.size());
  if (net_.size() < n) {
    return absl::InvalidArgumentError(
        absl::StrCat("link model has ", net_.size(), " peers for ", n, " plans"));
  }
  ranks_.resize(n);
  for (int r = 0; r < n; ++r) {
    if (absl::Status s = ValidatePlan(r); !s.ok()) return s;
    const Plan& p = plans_[r];
    RankState& st = ranks_[r];
    st.pending = p.dep_count;
    for (int peer : p.sends_to.Peers()) st.sends.push_back({peer, -1, &p.sends_to[peer]});
    for (int peer : p.recvs_from.Peers()) st.recvs.push_back({peer, -1, &p.recvs_from[peer]});
  }
  // Channels in rank order, so their numbering (and the order of ties in
  // simulated time) never depends on hashing.
  for (int r = 0; r < n; ++r) {
    RankState& st = ranks_[r];
    for (Cursor& c : st.sends) c.channel = ChannelFor(r, c.peer);
    for (Cursor& c : st.recvs) c.channel = ChannelFor(c.peer, r);
    const auto& steps = plans_[r].steps;
    st.info.resize(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) {
      const StepKind kind = steps[i].kind;
      int32_t cursor = 0;
      if (kind == StepKind::kSend) cursor = CursorOf(st.sends, steps[i].peer);
      if (kind == StepKind::kRecv || kind == StepKind::kRecvReduce) {
        cursor = CursorOf(st.recvs, steps[i].peer);
      }
      st.info[i] = PackInfo(kind, cursor);
    }
  }
  for (Channel& ch : channels_) {
    if (absl::Status s = PairMessages(ch); !s.ok()) return s;
    absl::StatusOr<int32_t> path = network_.Path(ch.from, ch.to);
    if (!path.ok()) return path.status();
    ch.path = *path;
    if (!ch.messages.empty()) network_.Declare(ch.path);
    ch.latency = net_.latency(ch.from, ch.to);
  }
  return absl::OkStatus();
}

void Engine::StepDone(int rank, int32_t step, double now) {
  RankState& st = ranks_[rank];
  const Plan& plan = plans_[rank];
  st.pending[step] = kDone;
  ++st.completed;
  st.finish_s = std::max(st.finish_s, now);
  bool copies = false;
  for (int32_t i = plan.dependents_begin[step]; i < plan.dependents_begin[step + 1]; ++i) {
    const int32_t d = plan.dependents[i];
    if (--st.pending[d] != 0) continue;
    const uint32_t info = st.info[d];
    if (InfoKind(info) == StepKind::kCopy) {
      st.compute_queue.push_back({d, -1, plan.steps[d].count, false});
      copies = true;
    } else if (InfoKind(info) == StepKind::kSend) {
      PumpSends(rank, InfoCursor(info), now);
    } else {
      PumpRecvs(rank, InfoCursor(info), now);
    }
  }
  if (copies) StartCompute(rank, now);
}

void Engine::PumpSends(int rank, int32_t cursor, double now) {
  RankState& st = ranks_[rank];
  Cursor& c = st.sends[cursor];
  while (c.next < c.steps->size()) {
    const int32_t idx = (*c.steps)[c.next];
    if (st.pending[idx] != 0) break;
    ++c.next;
    if (observer_ != nullptr) Observe(observer_->OnPosted(rank, idx));
    ++channels_[c.channel].sends_posted;
    MessagePosted(c.channel, now);
  }
}

void Engine::PumpRecvs(int rank, int32_t cursor, double now) {
  RankState& st = ranks_[rank];
  Cursor& c = st.recvs[cursor];
  while (c.next < c.steps->size()) {
    const int32_t idx = (*c.steps)[c.next];
    if (st.pending[idx] != 0) break;
    if (InfoKind(st.info[idx]) == StepKind::kRecvReduce) {
      if (st.free_slots == 0) {
        if (!c.waits_for_slot) {
          c.waits_for_slot = true;
          st.slot_waiters.push_back(cursor);
        }
        break;
      }
      --st.free_slots;
    }
    ++c.next;
    if (observer_ != nullptr) Observe(observer_->OnPosted(rank, idx));
    ++channels_[c.channel].recvs_posted;
    MessagePosted(c.channel, now);
  }
}

void Engine::MessagePosted(int32_t channel, double now) {
  // A post raises the matched count by at most one: that message is ready
  // alpha after the later of its two posts.
  Channel& ch = channels_[channel];
  const uint32_t matched = std::min(ch.sends_posted, ch.recvs_posted);
  if (matched > ch.matched) {
    ch.matched = matched;
    Schedule(now + cost_.alpha_s, EventKind::kReady, channel);
  }
}

void Engine::TryTransmit(int32_t channel, double now) {
  for (;;) {
    Channel& ch = channels_[channel];
    if (ch.transmitting || ch.next_transmit >= ch.ready) return;
    const double bytes = Bytes(ch.messages[ch.next_transmit].count);
    if (bytes == 0) {
      TransmitDone(channel, now);
      continue;
    }
    ch.transmitting = true;
    const int32_t flow = network_.Start(now, ch.path, bytes);
    if (static_cast<size_t>(flow) >= flow_channel_.size()) flow_channel_.resize(flow + 1);
    flow_channel_[flow] = channel;
  }
}

void Engine::TransmitDone(int32_t channel, double now) {
  Channel& ch = channels_[channel];
  const uint32_t msg = ch.next_transmit++;
  ch.transmitting = false;
  const Message& m = ch.messages[msg];
  const int32_t step = m.send_step;
  ++messages_;
  message_bytes_ += Bytes(m.count);
  Schedule(now + ch.latency, EventKind::kArrive, channel, msg);
  if (observer_ != nullptr) Observe(observer_->OnDone(ch.from, step, -1));
  StepDone(ch.from, step, now);
}

void Engine::Arrive(int32_t channel, uint32_t msg, double now) {
  const Channel& ch = channels_[channel];
  const Message& m = ch.messages[msg];
  if (!m.reduce) {
    if (observer_ != nullptr) Observe(observer_->OnDone(ch.to, m.recv_step, m.send_step));
    StepDone(ch.to, m.recv_step, now);
    return;
  }
  ranks_[ch.to].compute_queue.push_back({m.recv_step, m.send_step, m.count, true});
  StartCompute(ch.to, now);
}

void Engine::StartCompute(int rank, double now) {
  RankState& st = ranks_[rank];
  if (st.computing || st.compute_head == st.compute_queue.size()) return;
  st.current = st.compute_queue[st.compute_head++];
  if (st.compute_head == st.compute_queue.size()) {
    st.compute_queue.clear();  // keeps its capacity: no allocation per task
    st.compute_head = 0;
  }
  st.computing = true;
  const double bytes = Bytes(st.current.count);
  const double seconds =
      st.current.reduce ? ReduceSeconds(cost_, bytes) : CopySeconds(cost_, bytes);
  st.compute_busy_s += seconds;
  st.compute_bytes += bytes;
  Schedule(now + seconds, EventKind::kComputeDone, rank);
}

void Engine::ComputeDone(int rank, double now) {
  RankState& st = ranks_[rank];
  const Task task = st.current;
  st.computing = false;
  if (observer_ != nullptr) Observe(observer_->OnDone(rank, task.step, task.from_step));
  StepDone(rank, task.step, now);
  if (task.reduce) {
    ++st.free_slots;
    std::vector<int32_t> waiters;
    waiters.swap(st.slot_waiters);
    for (int32_t w : waiters) {
      st.recvs[w].waits_for_slot = false;
      PumpRecvs(rank, w, now);
    }
  }
  StartCompute(rank, now);
}

absl::Status Engine::Run() {
  const int n = static_cast<int>(plans_.size());
  for (int r = 0; r < n; ++r) {
    RankState& st = ranks_[r];
    const auto& steps = plans_[r].steps;
    for (size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].kind == StepKind::kCopy && st.pending[i] == 0) {
        st.compute_queue.push_back({static_cast<int32_t>(i), -1, steps[i].count, false});
      }
    }
    for (size_t c = 0; c < st.sends.size(); ++c) PumpSends(r, static_cast<int32_t>(c), 0);
    for (size_t c = 0; c < st.recvs.size(); ++c) PumpRecvs(r, static_cast<int32_t>(c), 0);
    StartCompute(r, 0);
  }
  while (status_.ok()) {
    double flow_time = 0;
    int32_t flow = -1;
    const bool has_flow = network_.NextFinish(&flow_time, &flow);
    if (!has_flow && events_.empty()) break;
    if (has_flow && (events_.empty() || flow_time <= events_.top().time)) {
      network_.Finish(flow_time, flow);
      const int32_t channel = flow_channel_[flow];
      TransmitDone(channel, flow_time);
      TryTransmit(channel, flow_time);
      continue;
    }
    const Event e = events_.top();
    events_.pop();
    switch (e.kind) {
      case EventKind::kReady:
        ++channels_[e.a].ready;
        TryTransmit(e.a, e.time);
        break;
      case EventKind::kArrive:
        Arrive(e.a, e.b, e.time);
        break;
      case EventKind::kComputeDone:
        ComputeDone(e.a, e.time);
        break;
    }
  }
  if (!status_.ok()) return status_;
  for (int r = 0; r < n; ++r) {
    if (ranks_[r].completed != plans_[r].steps.size()) {
      return absl::FailedPreconditionError(ExplainDeadlock());
    }
  }
  return absl::OkStatus();
}

std::string Engine::DescribeStep(int rank, int32_t step) const {
  return StepName(plans_[rank], step);
}

// Follows what the first unfinished step waits for, across ranks, until the
// chain closes on itself (the usual deadlock) or runs out.
std::string Engine::ExplainDeadlock() const {
  const int n = static_cast<int>(plans_.size());
  int stuck = 0, rank = -1;
  for (int r = 0; r < n; ++r) {
    if (ranks_[r].completed == plans_[r].steps.size()) continue;
    ++stuck;
    if (rank < 0) rank = r;
  }
  int32_t step = 0;
  while (ranks_[rank].pending[step] == kDone) ++step;
  std::string out = absl::StrCat("deadlock: ", stuck, " of ", n, " ranks cannot finish; ");
  std::vector<std::pair<int, int32_t>> seen;
  for (int hop = 0; hop < 16; ++hop) {
    if (std::find(seen.begin(), seen.end(), std::make_pair(rank, step)) != seen.end()) {
      absl::StrAppend(&out, "back to ", DescribeStep(rank, step), ": a cycle");
      return out;
    }
    seen.emplace_back(rank, step);
    absl::StrAppend(&out, DescribeStep(rank, step));
    const RankState& st = ranks_[rank];
    const Step& s = plans_[rank].steps[step];
    int next_rank = rank;
    int32_t next_step = -1;
    if (st.pending[step] != 0) {
      for (int32_t d : s.deps) {
        if (d >= 0 && st.pending[d] != kDone) next_step = d;
      }
      absl::StrAppend(&out, " waits for its dependency ");
    } else if (s.kind == StepKind::kCopy) {
      absl::StrAppend(&out, " never ran");
      return out;
    } else {
      const bool send = s.kind == StepKind::kSend;
      const Cursor& c = send ? st.sends[CursorOf(st.sends, s.peer)]
                             : st.recvs[CursorOf(st.recvs, s.peer)];
      const uint32_t k = MessageIndex(*c.steps, step);
      const Channel& ch = channels_[c.channel];
      if (k > c.next) {
        next_step = (*c.steps)[c.next];
        absl::StrAppend(&out, " is posted after (message order) ");
      } else if (k == c.next) {
        // Ready but not posted: only a receive-reduce without a slot.
        for (const Cursor& other : st.recvs) {
          for (uint32_t m = 0; m < other.next; ++m) {
            const int32_t idx = (*other.steps)[m];
            if (plans_[rank].steps[idx].kind == StepKind::kRecvReduce &&
                st.pending[idx] != kDone && (next_step < 0 || idx < next_step)) {
              next_step = idx;
            }
          }
        }
        absl::StrAppend(&out, " waits for one of the ", kStagingSlots,
                        " staging slots, held by ");
      } else if (send ? ch.recvs_posted <= k : ch.sends_posted <= k) {
        next_rank = s.peer;
        next_step = send ? plans_[s.peer].recvs_from[rank][k] : plans_[s.peer].sends_to[rank][k];
        absl::StrAppend(&out, " is posted, the peer's ", send ? "receive" : "send",
                        " is not: ");
      } else {
        absl::StrAppend(&out, " is in flight");
        return out;
      }
    }
    if (next_step < 0) return out;
    rank = next_rank;
    step = next_step;
  }
  absl::StrAppend(&out, " ...");
  return out;
}

SimResult Engine::Result() {
  SimResult res;
  const int n = static_cast<int>(plans_.size());
  res.rank_finish_s.resize(n);
  std::vector<ResourceUse> uses = network_.Usage();
  res.bytes_by_kind = network_.bytes_by_kind();
  for (int r = 0; r < n; ++r) {
    const RankState& st = ranks_[r];
    res.rank_finish_s[r] = st.finish_s;
    res.total_s = std::max(res.total_s, st.finish_s);
    res.bytes_by_kind[static_cast<int>(ResourceKind::kCompute)] += st.compute_bytes;
    if (st.compute_busy_s > 0) {
      ResourceUse u;
      u.kind = ResourceKind::kCompute;
      u.a = r;
      u.bytes = st.compute_bytes;
      u.busy_s = st.compute_busy_s;
      uses.push_back(u);
    }
  }
  res.messages = messages_;
  res.message_bytes = message_bytes_;
  std::stable_sort(uses.begin(), uses.end(), [](const ResourceUse& a, const ResourceUse& b) {
    return a.busy_s > b.busy_s;
  });
  if (uses.size() > 5) uses.resize(5);
  res.busiest = std::move(uses);
  return res;
}

}  // namespace

std::string StepName(const Plan& plan, int32_t step) {
  const Step& s = plan.steps[step];
  std::string what;
  switch (s.kind) {
    case StepKind::kSend:
      what = absl::StrCat("send to rank ", s.peer, ", message ",
                          MessageIndex(plan.sends_to[s.peer], step));
      break;
    case StepKind::kRecv:
    case StepKind::kRecvReduce:
      what = absl::StrCat(KindName(s.kind), " from rank ", s.peer, ", message ",
                          MessageIndex(plan.recvs_from[s.peer], step));
      break;
    case StepKind::kCopy: what = "copy"; break;
  }
  return absl::StrCat("rank ", plan.rank, " step ", step, " (", what, ")");
}

std::string SimResult::Summary() const {
  std::string out = absl::StrCat("simulated ", total_s, " s over ", rank_finish_s.size(),
                                 " ranks, ", messages, " messages, ", message_bytes, " bytes");
  for (int k = 0; k < kNumResourceKinds; ++k) {
    if (bytes_by_kind[k] > 0) {
      absl::StrAppend(&out, "; ", ResourceKindName(static_cast<ResourceKind>(k)), " ",
                      bytes_by_kind[k], " B");
    }
  }
  if (!busiest.empty()) {
    const double share = total_s > 0 ? busiest[0].busy_s / total_s : 0.0;
    absl::StrAppend(&out, "; busiest: ", busiest[0].Describe(), " (", 100 * share,
                    "% of the time)");
    // No resource busy most of the time: the plan waits on round trips.
    if (share < 0.5) absl::StrAppend(&out, "; mostly latency and per-message cost");
  }
  return out;
}

absl::StatusOr<SimResult> Simulate(const std::vector<Plan>& plans, const LinkModel& net,
                                   const CostParams& cost, size_t elem_size,
                                   StepObserver* observer) {
  Engine engine(plans, net, cost, elem_size, observer);
  if (absl::Status s = engine.Init(); !s.ok()) return s;
  if (absl::Status s = engine.Run(); !s.ok()) return s;
  return engine.Result();
}

absl::StatusOr<SimResult> Simulate(const std::vector<Plan>& plans, const LinkModel& net,
                                   const CostParams& cost, size_t elem_size) {
  return Simulate(plans, net, cost, elem_size, nullptr);
}

}  // namespace meridian::planner
