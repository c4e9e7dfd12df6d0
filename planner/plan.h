// The Plan IR: for one rank and one operation, the ordered list of steps
// (send, receive, receive-and-reduce, local copy) over chunk ranges of three
// buffers.  Every algorithm — ring, tree, hierarchy, compressed variants —
// is a generator of Plans; collectives/executor runs any Plan.
//
// Message matching: the k-th kSend to peer P in a plan and the k-th
// kRecv/kRecvReduce from this rank in P's plan are the same message.  Plan
// generators guarantee this pairing; CheckPlanPairing verifies it.
#ifndef MERIDIAN_PLANNER_PLAN_H_
#define MERIDIAN_PLANNER_PLAN_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace meridian::planner {

// Values are part of the wire format (operation descriptors).
enum class Collective : uint8_t {
  kAllReduce = 0,
  kBroadcast = 1,
  kReduce = 2,
  kAllGather = 3,
  kReduceScatter = 4,
  kBarrier = 5,
  // Point-to-point copies chosen by the caller (shared-state transfers):
  // the plan, not the collective, says who sends what to whom.
  kTransfer = 6,
};
const char* CollectiveName(Collective c);

enum class BufferId : uint8_t { kInput = 0, kOutput = 1, kScratch = 2 };

struct BufRef {
  BufferId buf = BufferId::kInput;
  uint64_t offset = 0;  // in elements
};

enum class StepKind : uint8_t {
  kSend,        // send src[0, count) to peer
  kRecv,        // receive count elements from peer into dst
  kRecvReduce,  // receive from peer; dst = src (op) received
  kCopy,        // dst = src, locally
};

struct Step {
  StepKind kind = StepKind::kCopy;
  int32_t peer = -1;
  BufRef src;
  BufRef dst;
  uint64_t count = 0;
  // After the reduction, divide by the world size (kAvg): done exactly once,
  // by the step that produces a final value.
  bool finalize = false;
  // Indices of earlier steps that must complete first (data or buffer-reuse
  // hazards).
  int32_t deps[2] = {-1, -1};
};

// A step with its dependencies normalised (the first slot filled first, no
// edge twice): what every generator's step builder starts from.
inline Step BuildStep(StepKind kind, int32_t peer, BufRef src, BufRef dst, uint64_t count,
                     bool finalize = false, int32_t dep0 = -1, int32_t dep1 = -1) {
  if (dep0 < 0) {
    dep0 = dep1;
    dep1 = -1;
  }
  if (dep1 == dep0) dep1 = -1;
  Step s;
  s.kind = kind;
  s.peer = peer;
  s.src = src;
  s.dst = dst;
  s.count = count;
  s.finalize = finalize;
  s.deps[0] = dep0;
  s.deps[1] = dep1;
  return s;
}

// Step indices per peer, stored only for the peers a plan talks to (a tree
// or hierarchical plan for 10,000 simulated ranks would otherwise hold
// 10,000 empty lists per rank).  Reads like a vector indexed by peer.
class PeerLists {
 public:
  void Reset(int world_size) {
    world_size_ = world_size;
    entries_.clear();
  }
  // Appends `step` to `peer`'s list; peers may come in any order.
  void Add(int peer, int32_t step);
  const std::vector<int32_t>& operator[](int peer) const;
  size_t size() const { return static_cast<size_t>(world_size_); }
  // Peers with a non-empty list, ascending.
  std::vector<int> Peers() const;

 private:
  int world_size_ = 0;
  std::vector<std::pair<int, std::vector<int32_t>>> entries_;  // by peer
};

struct Plan {
  Collective collective = Collective::kAllReduce;
  int rank = 0;
  int world_size = 1;
  uint64_t scratch_elems = 0;  // size of the kScratch buffer
  uint64_t max_recv_reduce_elems = 0;  // largest kRecvReduce (staging size)
  std::vector<Step> steps;

  // Derived by Finalize(): reverse dependency edges in CSR form, and each
  // peer's sends and receives in message order.
  std::vector<int32_t> dependents_begin;  // size steps+1
  std::vector<int32_t> dependents;
  std::vector<uint8_t> dep_count;
  PeerLists sends_to;    // [peer] -> step indices
  PeerLists recvs_from;  // [peer] -> step indices

  void Finalize();
  std::string DebugString() const;
};

// Receive-reduce staging slots per rank in the executor: a receive-reduce
// is posted only while one is free, and holds it until its data arrived and
// was reduced.  A plan in which a rank receive-reduces from several peers
// at once bounds each source's share: otherwise one source's early chunks
// can hold every slot while waiting for data that needs another source's
// chunks reduced first (a deadlock).
inline constexpr int kStagingSlots = 8;

// What to plan.  `count` follows the C API of each collective: all-reduce,
// broadcast, reduce: elements of the whole buffer; all-gather: elements
// each rank contributes; reduce-scatter: elements each rank receives.
struct PlanRequest {
  Collective collective = Collective::kAllReduce;
  int rank = 0;
  int world_size = 1;
  uint64_t count = 0;
  int root = 0;
  bool in_place = false;
  bool average = false;         // op is kAvg: finalize final values
  uint64_t chunk_elems = 1;     // pipelining granularity (>= 1)
  // Ring order: order[position] = rank, a permutation of 0..world_size-1
  // that every rank passes identically (the topology model picks it so
  // neighbours are close).  Empty: rank order.  It changes only the route:
  // which rank owns which part of a reduce-scatter or all-gather stays the
  // C API's (by rank).
  std::vector<int32_t> order;
};

// OK when `order` is empty or a permutation of 0..world_size-1;
// InvalidArgument naming the first bad entry otherwise.
absl::Status ValidateOrder(const std::vector<int32_t>& order, int world_size);

// Ring algorithms along req.order (rank order when empty).
Plan BuildRingPlan(const PlanRequest& request);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_PLAN_H_
