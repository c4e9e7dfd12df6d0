#include "collectives/executor.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "collectives/abort_reason.h"
#include "collectives/math/reduce.h"

namespace meridian::collectives {

using planner::Plan;
using planner::Step;
using planner::StepKind;

namespace {
// Enough receive-reduce chunks in flight per operation to keep every link
// busy while earlier chunks are reduced.
constexpr int kStagingSlots = 8;
}  // namespace

Executor::Executor(int rank, int world_size)
    : rank_(rank),
      world_size_(world_size),
      dead_(world_size),
      last_progress_(std::chrono::steady_clock::now()) {}

int Executor::NeededDeadPeer() const {
  for (int p = 0; p < world_size_; ++p) {
    if (dead_[p].ok()) continue;
    const bool sends_left = op_.next_send[p] < op_.plan->sends_to[p].size();
    const bool recvs_left = op_.recvs_done[p] < op_.plan->recvs_from[p].size();
    if (sends_left || recvs_left) return p;
  }
  return -1;
}

int Executor::FirstDeadPeer() const {
  for (int p = 0; p < world_size_; ++p) {
    if (!dead_[p].ok()) return p;
  }
  return -1;
}

void Executor::Start(uint64_t op_seq, const OpSpec& spec,
                     std::shared_ptr<const Plan> plan, const void* input,
                     void* output, Done done, size_t protect_bytes) {
  op_ = RunningOp();
  op_.active = true;
  op_.seq = op_seq;
  op_.spec = spec;
  op_.desc = spec.Encode();
  op_.elem_size = math::DataTypeSize(spec.dtype);
  op_.done = std::move(done);
  const size_t esize = op_.elem_size;
  const size_t scratch_bytes = plan->scratch_elems * esize;
  if (scratch_.size() < scratch_bytes) scratch_.resize(scratch_bytes);
  const size_t slot_bytes = plan->max_recv_reduce_elems * esize;
  if (slot_bytes > slot_bytes_ || slots_.empty()) {
    slot_bytes_ = std::max(slot_bytes, slot_bytes_);
    slots_.assign(kStagingSlots, std::vector<uint8_t>(slot_bytes_));
  }
  free_slots_.clear();
  for (int i = kStagingSlots - 1; i >= 0; --i) free_slots_.push_back(i);
  op_.base[0] = const_cast<uint8_t*>(static_cast<const uint8_t*>(input));
  if (protect_bytes > 0) {
    guard_.Arm(op_.base[0], protect_bytes);
  } else {
    guard_.Disarm();
  }
  op_.base[1] = static_cast<uint8_t*>(output);
  op_.base[2] = scratch_.data();
  op_.pending_deps = plan->dep_count;
  op_.staging_slot.assign(plan->steps.size(), -1);
  op_.next_send.assign(world_size_, 0);
  op_.next_recv.assign(world_size_, 0);
  op_.recvs_done.assign(world_size_, 0);
  if (record_times_) {
    step_times_.assign(plan->steps.size(), {});
    post_times_.assign(plan->steps.size(), {});
  }
  op_.plan = std::move(plan);
  Touch();
  for (transport::Link* link : links_) {
    if (link != nullptr) link->ExpectOp(op_seq, op_.desc);
  }

  // A peer may have aborted this operation before this rank reached it.
  early_aborts_.erase(early_aborts_.begin(), early_aborts_.lower_bound(op_seq));
  auto early = early_aborts_.find(op_seq);
  if (early != early_aborts_.end()) {
    absl::Status status = DecodeAbortReason(early->second);
    early_aborts_.erase(early);
    CancelLinks(op_seq);
    Finish(status);
    return;
  }
  if (int lost = NeededDeadPeer(); lost >= 0) {
    Finish(dead_[lost]);
    return;
  }
  const auto& steps = op_.plan->steps;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == StepKind::kCopy && op_.pending_deps[i] == 0) {
      ready_copies_.push_back(static_cast<int32_t>(i));
    }
  }
  for (int p = 0; p < world_size_; ++p) {
    if (!op_.plan->sends_to[p].empty() || !op_.plan->recvs_from[p].empty()) {
      dirty_peers_.push_back(p);
    }
  }
  Drain();
}

void Executor::Drain() {
  if (draining_) return;
  draining_ = true;
  const uint64_t seq = op_.seq;
  auto still_running = [&] { return op_.active && op_.seq == seq; };
  while (still_running() && (!ready_copies_.empty() || !dirty_peers_.empty())) {
    if (!ready_copies_.empty()) {
      int32_t step = ready_copies_.back();
      ready_copies_.pop_back();
      RunCopy(step);
      continue;
    }
    int peer = dirty_peers_.back();
    dirty_peers_.pop_back();
    PumpSends(peer);
    if (still_running()) PumpRecvs(peer);
  }
  draining_ = false;
  if (still_running() && op_.completed == op_.plan->steps.size()) {
    Finish(absl::OkStatus());
  }
}

void Executor::PumpSends(int peer) {
  const auto& list = op_.plan->sends_to[peer];
  size_t& next = op_.next_send[peer];
  while (next < list.size()) {
    const int32_t idx = list[next];
    if (op_.pending_deps[idx] > 0) break;
    const Step& s = op_.plan->steps[idx];
    const uint32_t msg = static_cast<uint32_t>(next++);
    if (record_times_) post_times_[idx] = std::chrono::steady_clock::now();
    links_[peer]->PostSend(op_.seq, msg, op_.desc, Ptr(s.src), s.count * op_.elem_size);
    if (!op_.active) return;
  }
}

void Executor::PumpRecvs(int peer) {
  const auto& list = op_.plan->recvs_from[peer];
  size_t& next = op_.next_recv[peer];
  while (next < list.size()) {
    const int32_t idx = list[next];
    if (op_.pending_deps[idx] > 0) break;
    const Step& s = op_.plan->steps[idx];
    uint8_t* target;
    if (s.kind == StepKind::kRecvReduce) {
      if (free_slots_.empty()) break;
      int32_t slot = free_slots_.back();
      free_slots_.pop_back();
      op_.staging_slot[idx] = slot;
      target = slots_[slot].data();
    } else {
      target = Ptr(s.dst);
      guard_.BeforeWrite(target, s.count * op_.elem_size);
    }
    const uint32_t msg = static_cast<uint32_t>(next++);
    links_[peer]->PostRecv(op_.seq, msg, op_.desc, target, s.count * op_.elem_size);
    if (!op_.active) return;
  }
}

void Executor::RunCopy(int32_t idx) {
  const Step& s = op_.plan->steps[idx];
  uint8_t* dst = Ptr(s.dst);
  const uint8_t* src = Ptr(s.src);
  if (dst != src) {
    guard_.BeforeWrite(dst, s.count * op_.elem_size);
    memmove(dst, src, s.count * op_.elem_size);
  }
  StepDone(idx);
}

void Executor::StepDone(int32_t idx) {
  ++op_.completed;
  if (record_times_) step_times_[idx] = std::chrono::steady_clock::now();
  const Plan& plan = *op_.plan;
  for (int32_t i = plan.dependents_begin[idx]; i < plan.dependents_begin[idx + 1]; ++i) {
    const int32_t d = plan.dependents[i];
    if (--op_.pending_deps[d] != 0) continue;
    const Step& s = plan.steps[d];
    if (s.kind == StepKind::kCopy) {
      ready_copies_.push_back(d);
    } else {
      dirty_peers_.push_back(s.peer);
    }
  }
}

void Executor::OnSendDone(int peer, uint64_t op_seq, uint32_t msg) {
  if (!op_.active || op_seq != op_.seq) return;
  const auto& list = op_.plan->sends_to[peer];
  if (msg >= list.size()) return;
  Touch();
  StepDone(list[msg]);
  Drain();
}

void Executor::OnRecvDone(int peer, uint64_t op_seq, uint32_t msg) {
  if (!op_.active || op_seq != op_.seq) return;
  const auto& list = op_.plan->recvs_from[peer];
  if (msg >= list.size()) return;
  Touch();
  const int32_t idx = list[msg];
  const Step& s = op_.plan->steps[idx];
  if (s.kind == StepKind::kRecvReduce) {
    const int32_t slot = op_.staging_slot[idx];
    uint8_t* dst = Ptr(s.dst);
    guard_.BeforeWrite(dst, s.count * op_.elem_size);
    math::Reduce(op_.spec.dtype, op_.spec.op, dst, Ptr(s.src), slots_[slot].data(), s.count);
    if (s.finalize) math::DivideBy(op_.spec.dtype, dst, s.count, world_size_);
    op_.staging_slot[idx] = -1;
    free_slots_.push_back(slot);
    // A freed slot may let any peer's next receive-reduce be posted.
    for (int p = 0; p < world_size_; ++p) {
      if (op_.next_recv[p] < op_.plan->recvs_from[p].size()) dirty_peers_.push_back(p);
    }
  }
  ++op_.recvs_done[peer];
  StepDone(idx);
  Drain();
}

void Executor::OnDescriptorMismatch(int peer, uint64_t op_seq,
                                    const transport::OpDescriptor& expected,
                                    const transport::OpDescriptor& received) {
  if (!op_.active || op_seq != op_.seq) return;
  std::string msg = MismatchMessage(rank_, op_.spec, peer, OpSpec::Decode(received), op_seq);
  MDN_LOG(Warn) << msg;
  Abort(absl::FailedPreconditionError(msg), /*notify_peers=*/true);
}

namespace {
// Failures that break the whole group (a peer lost, hung or garbled), as
// opposed to one operation's mismatch.
bool BreaksGroup(const absl::Status& s) {
  return absl::IsAborted(s) || absl::IsDeadlineExceeded(s) || absl::IsDataLoss(s) ||
         absl::IsUnavailable(s);
}
}  // namespace

void Executor::NotifyAbort(uint64_t op_seq, const absl::Status& status) {
  const std::string reason = EncodeAbortReason(status);
  for (transport::Link* link : links_) {
    if (link != nullptr && !link->failed()) link->SendAbort(op_seq, reason);
  }
  last_finished_ = std::max(last_finished_, op_seq);
}

void Executor::OnRemoteAbort(int peer, uint64_t op_seq, const std::string& reason) {
  if (op_.active && op_seq == op_.seq) {
    CancelLinks(op_seq);
    Finish(DecodeAbortReason(reason));
  } else if (op_.active && op_seq < op_.seq) {
    // A peer failed an operation this rank already finished, because the
    // group lost someone: this rank's current operation will never get that
    // peer's data either (it re-forms instead), so fail it now rather than
    // at the operation timeout, and pass the word on.
    absl::Status status = DecodeAbortReason(reason);
    if (BreaksGroup(status)) Abort(status, /*notify_peers=*/true);
  } else if (op_seq > last_finished_ && !(op_.active && op_seq < op_.seq)) {
    early_aborts_.emplace(op_seq, reason);
  }
}

void Executor::OnLinkError(int peer, const absl::Status& status) {
  if (dead_[peer].ok()) {
    // A malformed frame is the peer's fault, not a loss: report it as such.
    dead_[peer] = absl::IsInvalidArgument(status)
                      ? absl::DataLossError(status.message())
                      : absl::AbortedError(absl::StrCat("peer lost: ", status.message()));
  }
  const bool needed = op_.active && NeededDeadPeer() == peer;
  // A peer that leaves between operations (e.g. at shutdown) is routine;
  // one that leaves in the middle of an operation that needs it is not.
  if (needed) {
    MDN_LOG(Warn) << "link to rank " << peer << " failed: " << status.message();
    Abort(dead_[peer], /*notify_peers=*/true);
  } else {
    MDN_LOG(Info) << "link to rank " << peer << " closed: " << status.message();
  }
}

void Executor::Abort(const absl::Status& status, bool notify_peers) {
  if (!op_.active) return;
  const uint64_t seq = op_.seq;
  if (notify_peers) {
    const std::string reason = EncodeAbortReason(status);
    for (transport::Link* link : links_) {
      if (link != nullptr && !link->failed()) link->SendAbort(seq, reason);
    }
  }
  CancelLinks(seq);
  Finish(status);
}

void Executor::CancelLinks(uint64_t op_seq) {
  for (transport::Link* link : links_) {
    if (link != nullptr) link->CancelThrough(op_seq);
  }
}

void Executor::Finish(absl::Status status) {
  if (!op_.active) return;
  op_.active = false;
  last_finished_ = op_.seq;
  ready_copies_.clear();
  dirty_peers_.clear();
  op_.plan.reset();
  Done done = std::move(op_.done);
  done(std::move(status));
}

std::vector<int> Executor::WaitingOn() const {
  std::vector<int> out;
  if (!op_.active) return out;
  for (int p = 0; p < world_size_; ++p) {
    if (op_.recvs_done[p] < op_.plan->recvs_from[p].size()) out.push_back(p);
  }
  return out;
}

}  // namespace meridian::collectives
