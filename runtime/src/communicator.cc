#include "runtime/src/communicator.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "collectives/math/types.h"
#include "runtime/src/params.h"
#include "runtime/src/progress_placement.h"
#include "runtime/src/socket_ifname.h"

namespace meridian::runtime {

using planner::Collective;

namespace {
// Failures after which this epoch's links cannot be trusted: a peer is
// gone, hung or sent garbage.  A mismatch between calls (FailedPrecondition)
// is the application's error and leaves the group intact.
bool BreaksEpoch(const absl::Status& status) {
  return absl::IsAborted(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsDataLoss(status) || absl::IsUnavailable(status);
}

// Bytes of the caller's input that an in-place operation overwrites.
size_t InputBytes(const OpArgs& args, int world_size) {
  const size_t esize = math::DataTypeSize(args.spec.dtype);
  switch (args.spec.collective) {
    case Collective::kReduceScatter:
      return args.spec.count * static_cast<size_t>(world_size) * esize;
    case Collective::kBarrier:
    case Collective::kTransfer:
      return 0;
    default:
      return args.spec.count * esize;
  }
}
}  // namespace

Communicator::Communicator(const CommOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Create(
    const CommOptions& options) {
  std::unique_ptr<Communicator> comm(new Communicator(options));
  MDN_RETURN_IF_ERROR(comm->Connect());
  // Decided here (the caller's affinity is what a launcher pinned), applied
  // by the thread itself before its first operation.
  Placement placement = PlanProgressPlacement(options.progress_cpus, comm->advertised_.host);
  comm->progress_ = std::thread([c = comm.get(), placement] {
    ApplyProgressPlacement(placement);
    c->ProgressLoop();
  });
  return comm;
}

absl::Status Communicator::Connect() {
  const transport::Deadline deadline =
      transport::DeadlineAfterMs(options_.connect_timeout_ms);
  MDN_ASSIGN_OR_RETURN(std::unique_ptr<coordinator::CoordinatorClient> client,
                       coordinator::CoordinatorClient::Connect(
                           options_.coordinator, options_.auth_token, deadline));
  // Unless told otherwise, advertise an interface chosen on purpose
  // (socket_ifname.h): MERIDIAN_SOCKET_IFNAME's, else the one that reaches
  // the coordinator, never loopback while another interface has IPv4.  The
  // listener lives as long as the communicator: every epoch's mesh is built
  // on the same advertised port.
  std::string host = options_.advertise_host;
  if (host.empty()) {
    MDN_ASSIGN_OR_RETURN(InterfaceChoice choice,
                         ChooseLocalInterface(options_.socket_ifname ? &*options_.socket_ifname
                                                                     : nullptr,
                                              client->local_host(),
                                              IsLoopbackHost(options_.coordinator.host)));
    host = choice.address;
  }
  auto listener = transport::TcpListener::Open(transport::HostPort{host, 0});
  if (!listener.ok()) {
    return absl::Status(listener.status().code(),
                        absl::StrCat("cannot listen on advertised address ", host, ": ",
                                     listener.status().message()));
  }
  listener_ = std::make_unique<transport::TcpListener>(*std::move(listener));
  advertised_ = transport::HostPort{host, listener_->address().port};
  MDN_ASSIGN_OR_RETURN(coordinator::Roster roster,
                       client->Join(options_.world_size, options_.rank, advertised_, deadline));
  coordinator::MembershipClient::Callbacks callbacks;
  callbacks.on_member_lost = [this](uint64_t epoch, int rank, bool evicted,
                                    const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(notice_mu_);
      lost_notices_.push_back(LostNotice{epoch, rank, evicted, reason});
    }
    if (loop_) loop_->Wakeup();
  };
  callbacks.on_update_reply = [this] {
    if (loop_) loop_->Wakeup();
  };
  callbacks.on_evicted = [this](const absl::Status& why) {
    {
      std::lock_guard<std::mutex> lock(notice_mu_);
      evicted_ = why;
    }
    if (loop_) loop_->Wakeup();
  };
  MDN_ASSIGN_OR_RETURN(loop_, transport::EventLoop::Create());
  MDN_ASSIGN_OR_RETURN(membership_, coordinator::MembershipClient::Start(
                                        std::move(client), roster, options_.coordinator,
                                        options_.auth_token, advertised_,
                                        std::move(callbacks)));
  return BuildMesh(roster, deadline);
}

absl::Status Communicator::BuildMesh(const coordinator::Roster& roster,
                                     transport::Deadline deadline) {
  // Links report to the executor, so they go first.
  links_.clear();
  executor_ = std::make_unique<collectives::Executor>(roster.rank, roster.world_size);
  roster_ = roster;
  departed_ = absl::OkStatus();
  next_seq_ = 1;
  plans_.clear();
  drift_ref_ = 0;
  drift_hi_ = drift_lo_ = 1;
  timed_ops_ = 0;
  rank_.store(roster.rank);
  size_.store(roster.world_size);
  epoch_.store(roster.epoch);
  SetLogRank(roster.rank);

  transport::MeshSpec spec;
  spec.group_id = roster.group_id;
  spec.epoch = roster.epoch;
  spec.rank = roster.rank;
  spec.world_size = roster.world_size;
  spec.peer_addresses = roster.peers;
  spec.auth_token = options_.auth_token;
  spec.options.connections_per_peer = options_.connections_per_peer;
  spec.options.socket_buffer_bytes = options_.socket_buffer_bytes;
  spec.options.path = options_.path;
  spec.options.congestion_control = options_.congestion_control;
  spec.options.congestion_control_required = options_.congestion_control_required;
  spec.options.frame_bytes = options_.frame_bytes;
  // A peer of this epoch that is already known lost will never connect.
  spec.abort_check = [this, epoch = roster.epoch] { return KnownLoss(epoch); };
  absl::StatusOr<std::vector<std::unique_ptr<transport::Link>>> links =
      transport::ConnectTcpMesh(spec, *listener_, loop_.get(), executor_.get(), deadline);
  if (!links.ok()) {
    absl::Status st = links.status();
    // Connecting to a peer that is gone is losing it.
    if (absl::IsDeadlineExceeded(st) || absl::IsUnavailable(st)) {
      st = absl::AbortedError(absl::StrCat("peer lost while forming epoch ", roster.epoch,
                                           ": ", st.message()));
    }
    return st;
  }
  links_ = *std::move(links);
  std::vector<transport::Link*> raw;
  int k = 1;
  for (auto& l : links_) {
    raw.push_back(l.get());
    if (l) k = std::max(k, l->num_connections());
  }
  connections_per_peer_.store(k);
  executor_->SetLinks(std::move(raw));
  MDN_LOG(Info) << "rank " << roster.rank << "/" << roster.world_size << " connected, epoch "
                << roster.epoch << ", up to " << k << " connections per peer";
  return MeasureLinks();
}

absl::Status Communicator::RunNow(const collectives::OpSpec& spec,
                                  std::shared_ptr<const planner::Plan> plan,
                                  const void* input, void* output) {
  bool finished = false;
  absl::Status result;
  executor_->Start(next_seq_++, spec, std::move(plan), input, output,
                   [&](absl::Status st) {
                     finished = true;
                     result = std::move(st);
                   });
  while (!finished) {
    loop_->RunOnce(50);
    ApplyNotices();
    CheckTimeout();
  }
  return result;
}

Communicator::~Communicator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (loop_) loop_->Wakeup();
  if (progress_.joinable()) progress_.join();
  links_.clear();
  // Closing the coordinator connection is leaving the group.
  membership_.reset();
}

int Communicator::local_pending_joiners() const {
  return membership_ ? membership_->pending_joiners() : 0;
}

absl::Status Communicator::KnownLoss(uint64_t epoch) {
  std::lock_guard<std::mutex> lock(notice_mu_);
  if (!evicted_.ok()) return evicted_;
  for (const LostNotice& n : lost_notices_) {
    if (n.epoch == epoch) return absl::AbortedError(absl::StrCat("peer lost: ", n.reason));
  }
  return absl::OkStatus();
}

absl::Status Communicator::PrepareForCall() {
  if (!needs_reform_.load()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(reform_mu_);
  if (!needs_reform_.load()) return absl::OkStatus();
  OpArgs args;
  args.kind = OpArgs::Kind::kUpdate;
  args.force_new_epoch = true;
  return Submit(args)->Wait();
}

absl::Status Communicator::Update() {
  std::lock_guard<std::mutex> lock(reform_mu_);
  OpArgs args;
  args.kind = OpArgs::Kind::kUpdate;
  args.force_new_epoch = needs_reform_.load();
  return Submit(args)->Wait();
}

std::shared_ptr<Request> Communicator::Submit(const OpArgs& args) {
  auto req = std::make_shared<Request>(args);
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(req);
  }
  loop_->Wakeup();
  return req;
}

void Communicator::SetLastError(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = message;
}

std::string Communicator::LastError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void Communicator::ApplyNotices() {
  std::vector<LostNotice> lost;
  absl::Status evicted;
  {
    std::lock_guard<std::mutex> lock(notice_mu_);
    evicted = evicted_;
    // Notices of later epochs wait until this rank gets there.
    auto later = std::stable_partition(
        lost_notices_.begin(), lost_notices_.end(),
        [this](const LostNotice& n) { return n.epoch <= roster_.epoch; });
    for (auto it = lost_notices_.begin(); it != later; ++it) {
      if (it->epoch == roster_.epoch) lost.push_back(*it);
    }
    lost_notices_.erase(lost_notices_.begin(), later);
  }
  for (const LostNotice& n : lost) {
    if (n.rank < 0 || n.rank >= roster_.world_size || n.rank == roster_.rank) continue;
    if (!n.evicted) {
      // Its last data may still be in flight to us; the links will report
      // the close once everything sent has been read.
      if (departed_.ok()) departed_ = absl::AbortedError(absl::StrCat("peer lost: ", n.reason));
      continue;
    }
    // Silent peer: treated like a failed link, so a running operation that
    // needs it is aborted on every rank and later ones fail at start.
    executor_->OnLinkError(n.rank, absl::UnavailableError(n.reason));
  }
  if (!evicted.ok()) {
    if (broken_.ok()) broken_ = evicted;
    executor_->Abort(evicted, /*notify_peers=*/false);
  }
}

bool Communicator::StartNext() {
  std::shared_ptr<Request> req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty()) return false;
    req = std::move(queue_.front());
    queue_.pop_front();
  }
  ApplyNotices();
  if (broken_.ok()) {
    if (int p = executor_->FirstDeadPeer(); p >= 0) broken_ = executor_->dead_status(p);
  }
  if (broken_.ok() && !departed_.ok()) broken_ = departed_;
  if (req->args().kind == OpArgs::Kind::kUpdate) {
    RunUpdate(*req);
    return true;
  }
  if (!broken_.ok()) {
    // This epoch has lost a peer: the operation cannot run on it, and the
    // caller must learn that before the group re-forms under it.  Peers
    // that already wait in this operation hear it too, rather than at their
    // operation timeout.
    executor_->NotifyAbort(next_seq_++, broken_);
    OnOpDone(req, broken_);
    return true;
  }
  RunCollective(req);
  return true;
}

void Communicator::RunUpdate(Request& req) {
  absl::Status status = Reform(req.args().force_new_epoch || !broken_.ok());
  if (!status.ok()) SetLastError(std::string(status.message()));
  req.Complete(std::move(status));
}

absl::Status Communicator::Reform(bool force) {
  const transport::Deadline deadline =
      transport::DeadlineAfterMs(options_.connect_timeout_ms);
  membership_->RequestUpdate(force);
  // The data plane keeps moving while the coordinator collects everyone's
  // request: aborts this rank still owes its peers must reach them, or they
  // would wait for their operation timeout instead of coming here too.
  absl::StatusOr<coordinator::Roster> roster;
  while (true) {
    if (auto reply = membership_->TakeUpdateReply()) {
      roster = *std::move(reply);
      break;
    }
    if (transport::Clock::now() >= deadline) {
      membership_->CancelUpdate();
      return absl::DeadlineExceededError(absl::StrCat(
          "no answer from the coordinator at ", options_.coordinator.ToString(),
          " to this step boundary within ", options_.connect_timeout_ms,
          " ms (MERIDIAN_CONNECT_TIMEOUT_MS): it is unreachable, or another member "
          "has not reached the step boundary"));
    }
    loop_->RunOnce(50);
  }
  if (!roster.ok()) return roster.status();
  if (roster->epoch == roster_.epoch && broken_.ok()) {
    absl::Status drift = CheckDrift();
    if (!drift.ok() && BreaksEpoch(drift)) {
      broken_ = drift;
      needs_reform_.store(true);
    }
    return drift;
  }
  MDN_LOG(Info) << "re-forming: epoch " << roster_.epoch << " -> " << roster->epoch
                << ", rank " << roster_.rank << " -> " << roster->rank << ", size "
                << roster_.world_size << " -> " << roster->world_size;
  absl::Status built = BuildMesh(*roster, deadline);
  if (!built.ok()) {
    broken_ = built;
    needs_reform_.store(true);
    return built;
  }
  broken_ = absl::OkStatus();
  needs_reform_.store(false);
  return absl::OkStatus();
}

void Communicator::RunCollective(const std::shared_ptr<Request>& req) {
  const OpArgs& args = req->args();
  const void* input = args.input;
  void* output = args.output;
  if (args.spec.collective == Collective::kBarrier) {
    input = req->barrier_bytes();
    output = req->barrier_bytes() + 1;
  }
  // An in-place operation saves what it overwrites of the caller's input,
  // so that a failure can put it back (nothing is lost).
  size_t protect_bytes = 0;
  if (args.in_place && options_.inplace_backup && !args.plan) {
    protect_bytes = InputBytes(args, roster_.world_size);
  }
  // A non-root reduce's buffer is input only; the plan may use it for
  // partial sums, so it is always put back.
  const bool restore_always = args.spec.collective == Collective::kReduce &&
                              args.spec.root != roster_.rank && protect_bytes > 0;
  const uint64_t seq = next_seq_++;
  CachedPlan cached = PlanFor(args);
  UseFittedLinks(cached.fitted_links);
  const auto started = std::chrono::steady_clock::now();
  executor_->Start(
      seq, args.spec, cached.plan, input, output,
      [this, req, protect_bytes, restore_always, started,
       predicted = cached.predicted_s](absl::Status status) {
        if (status.ok() && predicted > 0) {
          NoteOpTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                         .count(),
                     predicted);
        }
        if (protect_bytes > 0 && (!status.ok() || restore_always)) executor_->RestoreInput();
        OnOpDone(req, std::move(status));
      },
      protect_bytes);
}

void Communicator::OnOpDone(const std::shared_ptr<Request>& req, absl::Status status) {
  if (!status.ok()) {
    if (BreaksEpoch(status)) {
      if (broken_.ok()) broken_ = status;
      needs_reform_.store(true);
    }
    SetLastError(std::string(status.message()));
  }
  req->Complete(std::move(status));
}

void Communicator::CheckTimeout() {
  if (!executor_->busy()) return;
  auto idle = std::chrono::steady_clock::now() - executor_->last_progress();
  if (idle < std::chrono::milliseconds(options_.op_timeout_ms)) return;
  std::vector<int> waiting = executor_->WaitingOn();
  std::string msg = absl::StrCat(
      "operation #", executor_->current_op(), " made no progress for ",
      options_.op_timeout_ms, " ms (MERIDIAN_OP_TIMEOUT_MS)");
  if (!waiting.empty()) {
    absl::StrAppend(&msg, "; still waiting for data from rank(s) ", absl::StrJoin(waiting, ", "));
  }
  MDN_LOG(Warn) << msg;
  executor_->Abort(absl::DeadlineExceededError(msg), /*notify_peers=*/true);
}

void Communicator::ProgressLoop() {
  while (true) {
    // Operations may finish inside Start (world size 1, early abort), so
    // keep starting until one is running or the queue is empty.
    while (!executor_->busy() && StartNext()) {
    }
    if (!executor_->busy()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_ && queue_.empty()) break;
    }
    // Submit() and the membership thread wake the loop through its
    // eventfd, so idle waits can be long.
    loop_->RunOnce(executor_->busy() ? 100 : 1000);
    ApplyNotices();
    CheckTimeout();
  }
}

}  // namespace meridian::runtime
