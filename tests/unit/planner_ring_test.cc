// Runs the ring plans of every rank against each other in memory (no
// sockets), checking results, message pairing and freedom from deadlock for
// every collective, world sizes 1..9, odd counts, in and out of place.
#include <cstdint>
#include <deque>
#include <map>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "planner/plan.h"

namespace meridian::planner {
namespace {

enum class Op { kSum, kMax, kAvg };

struct Message {
  std::vector<int64_t> data;
};

struct RankState {
  Plan plan;
  std::vector<int64_t> input, output, scratch;
  std::vector<uint8_t> pending;
  std::vector<bool> done;
  std::vector<size_t> next_send, next_recv;
  size_t completed = 0;
};

int64_t Combine(Op op, int64_t a, int64_t b) {
  return op == Op::kMax ? std::max(a, b) : a + b;
}

class Simulation {
 public:
  Simulation(const PlanRequest& base, int n, Op op,
             const std::vector<std::vector<int64_t>>& inputs, uint64_t out_elems)
      : n_(n), op_(op), ranks_(n) {
    for (int r = 0; r < n; ++r) {
      PlanRequest req = base;
      req.rank = r;
      req.world_size = n;
      req.average = op == Op::kAvg;
      RankState& s = ranks_[r];
      s.plan = BuildRingPlan(req);
      s.input = inputs[r];
      s.output.assign(out_elems, -7777);
      s.scratch.assign(s.plan.scratch_elems, -8888);
      s.pending = s.plan.dep_count;
      s.done.assign(s.plan.steps.size(), false);
      s.next_send.assign(n, 0);
      s.next_recv.assign(n, 0);
    }
  }

  // In-place layouts alias input and output: model that by pointing the
  // input at the output buffer (with an offset for the scattered layouts).
  void SetInPlaceInputOffset(int r, int64_t offset) { in_place_offset_[r] = offset; }
  // Reduce-scatter in place: the output is a window of the input.
  void SetOutputInInput(int r, int64_t offset) { output_in_input_[r] = offset; }

  int64_t* Buf(RankState& s, int r, const BufRef& ref) {
    switch (ref.buf) {
      case BufferId::kInput:
        if (in_place_offset_.count(r)) return s.output.data() + in_place_offset_[r] + ref.offset;
        return s.input.data() + ref.offset;
      case BufferId::kOutput:
        if (output_in_input_.count(r)) return s.input.data() + output_in_input_[r] + ref.offset;
        return s.output.data() + ref.offset;
      case BufferId::kScratch: return s.scratch.data() + ref.offset;
    }
    return nullptr;
  }

  void Complete(RankState& s, int32_t idx) {
    s.done[idx] = true;
    ++s.completed;
    for (int32_t i = s.plan.dependents_begin[idx]; i < s.plan.dependents_begin[idx + 1]; ++i) {
      --s.pending[s.plan.dependents[i]];
    }
  }

  // Returns false on deadlock.
  bool Run() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (int r = 0; r < n_; ++r) {
        RankState& s = ranks_[r];
        for (size_t i = 0; i < s.plan.steps.size(); ++i) {
          const Step& st = s.plan.steps[i];
          if (!s.done[i] && st.kind == StepKind::kCopy && s.pending[i] == 0) {
            std::copy_n(Buf(s, r, st.src), st.count, Buf(s, r, st.dst));
            Complete(s, i);
            progress = true;
          }
        }
        for (int p = 0; p < n_; ++p) {
          auto& sends = s.plan.sends_to[p];
          while (s.next_send[p] < sends.size() && s.pending[sends[s.next_send[p]]] == 0) {
            const Step& st = s.plan.steps[sends[s.next_send[p]]];
            const int64_t* src = Buf(s, r, st.src);
            channels_[{r, p}].push_back(Message{{src, src + st.count}});
            Complete(s, sends[s.next_send[p]++]);
            progress = true;
          }
          auto& recvs = s.plan.recvs_from[p];
          while (s.next_recv[p] < recvs.size() && s.pending[recvs[s.next_recv[p]]] == 0 &&
                 !channels_[{p, r}].empty()) {
            const int32_t idx = recvs[s.next_recv[p]++];
            const Step& st = s.plan.steps[idx];
            Message m = std::move(channels_[{p, r}].front());
            channels_[{p, r}].pop_front();
            EXPECT_EQ(m.data.size(), st.count) << "message size mismatch at rank " << r;
            if (m.data.size() != st.count) return false;
            int64_t* dst = Buf(s, r, st.dst);
            if (st.kind == StepKind::kRecv) {
              std::copy(m.data.begin(), m.data.end(), dst);
            } else {
              const int64_t* src = Buf(s, r, st.src);
              for (uint64_t k = 0; k < st.count; ++k) {
                dst[k] = Combine(op_, src[k], m.data[k]);
                if (st.finalize) dst[k] /= n_;
              }
            }
            Complete(s, idx);
            progress = true;
          }
        }
      }
    }
    for (auto& [key, q] : channels_) {
      EXPECT_TRUE(q.empty()) << "unconsumed message " << key.first << "->" << key.second;
    }
    for (auto& s : ranks_) {
      if (s.completed != s.plan.steps.size()) return false;
    }
    return true;
  }

  std::vector<int64_t> output(int r) const {
    auto it = output_in_input_.find(r);
    if (it == output_in_input_.end()) return ranks_[r].output;
    const auto& in = ranks_[r].input;
    return {in.begin() + it->second, in.begin() + it->second + ranks_[r].output.size()};
  }
  std::vector<int64_t>& mutable_output(int r) { return ranks_[r].output; }

 private:
  int n_;
  Op op_;
  std::vector<RankState> ranks_;
  std::map<std::pair<int, int>, std::deque<Message>> channels_;
  std::map<int, int64_t> in_place_offset_;
  std::map<int, int64_t> output_in_input_;
};

std::vector<std::vector<int64_t>> MakeInputs(int n, uint64_t elems) {
  std::vector<std::vector<int64_t>> in(n, std::vector<int64_t>(elems));
  for (int r = 0; r < n; ++r) {
    for (uint64_t i = 0; i < elems; ++i) in[r][i] = static_cast<int64_t>((i * 31 + r * 17) % 101) * n;
  }
  return in;
}

int64_t Reduce(Op op, const std::vector<std::vector<int64_t>>& in, uint64_t i) {
  int64_t acc = in[0][i];
  for (size_t r = 1; r < in.size(); ++r) acc = Combine(op, acc, in[r][i]);
  if (op == Op::kAvg) acc /= static_cast<int64_t>(in.size());
  return acc;
}

struct Case {
  int n;
  uint64_t count;
  uint64_t chunk;
  bool in_place;
};

std::vector<Case> Cases() {
  std::vector<Case> out;
  for (int n = 1; n <= 9; ++n) {
    for (uint64_t count : {0ull, 1ull, 2ull, 7ull, 13ull, 100ull, 257ull}) {
      for (uint64_t chunk : {1ull, 3ull, 64ull}) {
        for (bool ip : {false, true}) out.push_back({n, count, chunk, ip});
      }
    }
  }
  return out;
}

TEST(RingPlanTest, AllReduce) {
  for (const Case& c : Cases()) {
    for (Op op : {Op::kSum, Op::kMax, Op::kAvg}) {
      auto in = MakeInputs(c.n, c.count);
      PlanRequest req{Collective::kAllReduce, 0, c.n, c.count, 0, c.in_place, false, c.chunk};
      Simulation sim(req, c.n, op, in, c.count);
      if (c.in_place) {
        // In place: the output buffer starts as the input.
        for (int r = 0; r < c.n; ++r) sim.SetInPlaceInputOffset(r, 0);
      }
      if (c.in_place) {
        for (int r = 0; r < c.n; ++r) sim.mutable_output(r) = in[r];
      }
      ASSERT_TRUE(sim.Run()) << "deadlock n=" << c.n << " count=" << c.count;
      for (int r = 0; r < c.n; ++r) {
        for (uint64_t i = 0; i < c.count; ++i) {
          ASSERT_EQ(sim.output(r)[i], Reduce(op, in, i))
              << "n=" << c.n << " count=" << c.count << " chunk=" << c.chunk << " rank " << r
              << " i=" << i << " in_place=" << c.in_place;
        }
      }
    }
  }
}

TEST(RingPlanTest, ReduceScatter) {
  for (const Case& c : Cases()) {
    auto in = MakeInputs(c.n, c.count * c.n);
    PlanRequest req{Collective::kReduceScatter, 0, c.n, c.count, 0, c.in_place, false, c.chunk};
    Simulation sim(req, c.n, Op::kSum, in, c.count);
    if (c.in_place) {
      for (int r = 0; r < c.n; ++r) sim.SetOutputInInput(r, r * c.count);
    }
    ASSERT_TRUE(sim.Run());
    for (int r = 0; r < c.n; ++r) {
      for (uint64_t i = 0; i < c.count; ++i) {
        ASSERT_EQ(sim.output(r)[i], Reduce(Op::kSum, in, r * c.count + i))
            << "n=" << c.n << " count=" << c.count << " rank " << r;
      }
    }
  }
}

TEST(RingPlanTest, AllGather) {
  for (const Case& c : Cases()) {
    auto in = MakeInputs(c.n, c.count);
    PlanRequest req{Collective::kAllGather, 0, c.n, c.count, 0, c.in_place, false, c.chunk};
    Simulation sim(req, c.n, Op::kSum, in, c.count * c.n);
    if (c.in_place) {
      for (int r = 0; r < c.n; ++r) {
        sim.SetInPlaceInputOffset(r, r * c.count);
        std::copy(in[r].begin(), in[r].end(), sim.mutable_output(r).begin() + r * c.count);
      }
    }
    ASSERT_TRUE(sim.Run());
    for (int r = 0; r < c.n; ++r) {
      for (int src = 0; src < c.n; ++src) {
        for (uint64_t i = 0; i < c.count; ++i) {
          ASSERT_EQ(sim.output(r)[src * c.count + i], in[src][i]);
        }
      }
    }
  }
}

TEST(RingPlanTest, BroadcastAndReduceEveryRoot) {
  for (const Case& c : Cases()) {
    for (int root = 0; root < c.n; ++root) {
      auto in = MakeInputs(c.n, c.count);
      PlanRequest b{Collective::kBroadcast, 0, c.n, c.count, root, false, false, c.chunk};
      Simulation bs(b, c.n, Op::kSum, in, c.count);
      ASSERT_TRUE(bs.Run());
      for (int r = 0; r < c.n; ++r) EXPECT_EQ(bs.output(r), in[root]);

      PlanRequest red{Collective::kReduce, 0, c.n, c.count, root, false, false, c.chunk};
      Simulation rs(red, c.n, Op::kSum, in, c.count);
      ASSERT_TRUE(rs.Run());
      for (uint64_t i = 0; i < c.count; ++i) {
        ASSERT_EQ(rs.output(root)[i], Reduce(Op::kSum, in, i)) << "root " << root;
      }
    }
  }
}

TEST(RingPlanTest, EverySegmentSendsAtLeastOneMessage) {
  // Zero-count operations still exchange (empty) messages, so peers check
  // each other's descriptors and a barrier synchronises.
  for (int n = 2; n <= 5; ++n) {
    PlanRequest req{Collective::kAllReduce, 0, n, 0, 0, false, false, 16};
    Plan p = BuildRingPlan(req);
    EXPECT_EQ(p.sends_to[1].size(), static_cast<size_t>(2 * (n - 1)));
  }
}

}  // namespace
}  // namespace meridian::planner
