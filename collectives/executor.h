// Runs a Plan for one rank over the Links to its peers: posts each send when
// its dependencies are met, posts receives in message order (receive-reduce
// steps only while a staging slot is free, which bounds memory), reduces
// each arriving chunk straight away, and completes the operation when every
// step is done.  Everything runs on the communicator's progress thread,
// driven by Link events; nothing here blocks.
#ifndef MERIDIAN_COLLECTIVES_EXECUTOR_H_
#define MERIDIAN_COLLECTIVES_EXECUTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "collectives/input_guard.h"
#include "collectives/op_descriptor.h"
#include "planner/plan.h"
#include "transport/link.h"

namespace meridian::collectives {

class Executor : public transport::LinkEvents {
 public:
  using Done = std::function<void(absl::Status)>;

  Executor(int rank, int world_size);

  // links[peer] (nullptr at this rank).  Must be set before Start.
  void SetLinks(std::vector<transport::Link*> links) { links_ = std::move(links); }

  // Begins operation op_seq.  `done` runs exactly once, on the progress
  // thread, when this rank's part finishes or fails; until then the buffers
  // belong to the executor.  Only one operation runs at a time.
  // protect_bytes > 0 (in-place operations): the first protect_bytes of
  // input are saved as the operation first overwrites them, so that
  // RestoreInput can put them back.
  void Start(uint64_t op_seq, const OpSpec& spec,
             std::shared_ptr<const planner::Plan> plan, const void* input,
             void* output, Done done, size_t protect_bytes = 0);
  // Puts back what the last operation overwrote of its protected input
  // (from `done`, typically after a failure).
  void RestoreInput() { guard_.Restore(); }

  // When on, the completion time of every step of each operation is kept
  // (link probing reads them: ping-pong round trips, bulk arrival rates).
  void RecordStepTimes(bool on) { record_times_ = on; }
  // Completion time per step of the last operation that recorded them
  // (time_point{} for steps that never completed).
  const std::vector<std::chrono::steady_clock::time_point>& step_times() const {
    return step_times_;
  }
  // When each send step was handed to its link (before any byte left): on a
  // busy host the kernel may switch to the woken receiver inside the write,
  // so a completion time can trail the moment the bytes really left.
  const std::vector<std::chrono::steady_clock::time_point>& post_times() const {
    return post_times_;
  }

  bool busy() const { return op_.active; }
  uint64_t current_op() const { return op_.seq; }
  std::chrono::steady_clock::time_point last_progress() const { return last_progress_; }
  // Ranks whose messages the running operation still waits for (for
  // timeout messages).
  std::vector<int> WaitingOn() const;

  // First peer whose link has failed (-1: none), and why.
  int FirstDeadPeer() const;
  const absl::Status& dead_status(int peer) const { return dead_[peer]; }

  // Tells every peer that operation op_seq, which this rank never started
  // (its group is already broken), is aborted for `status`.
  void NotifyAbort(uint64_t op_seq, const absl::Status& status);

  // Fails the running operation with `status` (e.g. a timeout); when
  // notify_peers, tells every peer to abort it too.
  void Abort(const absl::Status& status, bool notify_peers);


  // LinkEvents.
  void OnSendDone(int peer, uint64_t op_seq, uint32_t msg) override;
  void OnRecvDone(int peer, uint64_t op_seq, uint32_t msg) override;
  void OnDescriptorMismatch(int peer, uint64_t op_seq,
                            const transport::OpDescriptor& expected,
                            const transport::OpDescriptor& received) override;
  void OnRemoteAbort(int peer, uint64_t op_seq, const std::string& reason) override;
  void OnLinkError(int peer, const absl::Status& status) override;

 private:
  struct RunningOp {
    bool active = false;
    uint64_t seq = 0;
    OpSpec spec;
    transport::OpDescriptor desc{};
    std::shared_ptr<const planner::Plan> plan;
    uint8_t* base[3] = {nullptr, nullptr, nullptr};  // input, output, scratch
    size_t elem_size = 0;
    std::vector<uint8_t> pending_deps;
    std::vector<int32_t> staging_slot;  // per step, -1 if none
    std::vector<size_t> next_send, next_recv;  // per peer, message index
    std::vector<size_t> recvs_done;            // per peer
    size_t completed = 0;
    Done done;
  };

  uint8_t* Ptr(const planner::BufRef& ref) const {
    return op_.base[static_cast<int>(ref.buf)] + ref.offset * op_.elem_size;
  }
  void PumpSends(int peer);
  void PumpRecvs(int peer);
  void RunCopy(int32_t step);
  void StepDone(int32_t step);
  // Runs ready copies and posts ready sends/receives until nothing changes;
  // re-entrant calls (a Link raising an event inside Post*) only queue work.
  void Drain();
  void Finish(absl::Status status);
  void CancelLinks(uint64_t op_seq);
  void Touch() { last_progress_ = std::chrono::steady_clock::now(); }

  const int rank_;
  const int world_size_;
  std::vector<transport::Link*> links_;
  RunningOp op_;
  std::vector<uint8_t> scratch_;
  InputGuard guard_;
  // Staging for receive-reduce: slots of equal size, reused.
  std::vector<std::vector<uint8_t>> slots_;
  std::vector<int32_t> free_slots_;
  // Work found by StepDone, consumed by Drain.
  std::vector<int32_t> ready_copies_;
  std::vector<int> dirty_peers_;
  bool draining_ = false;
  size_t slot_bytes_ = 0;
  // Aborts that peers announced for operations this rank has not reached.
  std::map<uint64_t, std::string> early_aborts_;
  uint64_t last_finished_ = 0;
  // Per peer: why its link failed.  A lost peer fails only the operations
  // that exchange data with it; a peer that leaves while others finish an
  // operation it is not part of (e.g. at shutdown) harms nobody.
  std::vector<absl::Status> dead_;
  // First dead peer the plan of the running/starting operation still needs.
  int NeededDeadPeer() const;
  std::chrono::steady_clock::time_point last_progress_;
  bool record_times_ = false;
  std::vector<std::chrono::steady_clock::time_point> step_times_;
  std::vector<std::chrono::steady_clock::time_point> post_times_;
};

}  // namespace meridian::collectives

#endif  // MERIDIAN_COLLECTIVES_EXECUTOR_H_
