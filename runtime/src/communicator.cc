#include "runtime/src/communicator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "collectives/math/types.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::runtime {

using planner::Collective;

namespace {
constexpr size_t kMaxCachedPlans = 256;
}  // namespace

Communicator::Communicator(const CommOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Create(
    const CommOptions& options) {
  std::unique_ptr<Communicator> comm(new Communicator(options));
  MDN_RETURN_IF_ERROR(comm->Connect());
  comm->progress_ = std::thread([c = comm.get()] { c->ProgressLoop(); });
  return comm;
}

absl::Status Communicator::Connect() {
  const transport::Deadline deadline =
      transport::DeadlineAfterMs(options_.connect_timeout_ms);
  MDN_ASSIGN_OR_RETURN(coordinator_,
                       coordinator::CoordinatorClient::Connect(
                           options_.coordinator, options_.auth_token, deadline));
  // Advertise the interface that reaches the coordinator unless told
  // otherwise: that is the one peers elsewhere can most likely reach too.
  std::string host = options_.advertise_host.empty() ? coordinator_->local_host()
                                                     : options_.advertise_host;
  transport::HostPort bind_addr{host, 0};
  auto listener = transport::TcpListener::Open(bind_addr);
  if (!listener.ok()) {
    return absl::Status(listener.status().code(),
                        absl::StrCat("cannot listen on advertised address ", host, ": ",
                                     listener.status().message()));
  }
  transport::HostPort advertised{host, listener->address().port};
  MDN_ASSIGN_OR_RETURN(roster_, coordinator_->Join(options_.world_size, options_.rank,
                                                   advertised, deadline));
  SetLogRank(roster_.rank);
  MDN_ASSIGN_OR_RETURN(loop_, transport::EventLoop::Create());
  executor_ = std::make_unique<collectives::Executor>(roster_.rank, roster_.world_size);

  transport::MeshSpec spec;
  spec.group_id = roster_.group_id;
  spec.epoch = roster_.epoch;
  spec.rank = roster_.rank;
  spec.world_size = roster_.world_size;
  spec.peer_addresses = roster_.peers;
  spec.auth_token = options_.auth_token;
  connections_per_peer_ = options_.connections_per_peer > 0
                             ? options_.connections_per_peer
                             : transport::DefaultConnectionsPerPeer(roster_.peers);
  spec.options.connections_per_peer = connections_per_peer_;
  spec.options.socket_buffer_bytes = options_.socket_buffer_bytes;
  spec.options.frame_bytes = options_.frame_bytes;
  MDN_ASSIGN_OR_RETURN(links_, transport::ConnectTcpMesh(spec, *listener, loop_.get(),
                                                         executor_.get(), deadline));
  std::vector<transport::Link*> raw;
  for (auto& l : links_) raw.push_back(l.get());
  executor_->SetLinks(std::move(raw));
  MDN_LOG(Info) << "rank " << roster_.rank << "/" << roster_.world_size << " connected, epoch "
                << roster_.epoch << ", " << connections_per_peer_
                << " connections per peer";
  return absl::OkStatus();
}

Communicator::~Communicator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (loop_) loop_->Wakeup();
  if (progress_.joinable()) progress_.join();
  links_.clear();
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

std::shared_ptr<const planner::Plan> Communicator::PlanFor(const OpArgs& args) {
  if (args.plan) return args.plan;
  const auto& spec = args.spec;
  const size_t esize = math::DataTypeSize(spec.dtype);
  PlanKey key{static_cast<int>(spec.collective), spec.count, spec.root, args.in_place,
              spec.op == math::RedOp::kAvg, esize};
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  planner::PlanRequest pr;
  pr.collective = spec.collective;
  pr.rank = rank();
  pr.world_size = size();
  pr.count = spec.count;
  pr.root = spec.root;
  pr.in_place = args.in_place;
  pr.average = spec.op == math::RedOp::kAvg;
  pr.chunk_elems = std::max<uint64_t>(1, options_.chunk_bytes / esize);
  auto plan = std::make_shared<const planner::Plan>(planner::BuildRingPlan(pr));
  if (plans_.size() >= kMaxCachedPlans) plans_.clear();
  plans_.emplace(key, plan);
  return plan;
}

bool Communicator::StartNext() {
  std::shared_ptr<Request> req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty()) return false;
    req = std::move(queue_.front());
    queue_.pop_front();
  }
  const OpArgs& args = req->args();
  const void* input = args.input;
  void* output = args.output;
  if (args.spec.collective == Collective::kBarrier) {
    input = req->barrier_bytes();
    output = req->barrier_bytes() + 1;
  }
  const uint64_t seq = next_seq_++;
  executor_->Start(seq, args.spec, PlanFor(args), input, output,
                   [this, req](absl::Status status) {
                     if (!status.ok()) SetLastError(std::string(status.message()));
                     req->Complete(std::move(status));
                   });
  return true;
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
    // Submit() wakes the loop through its eventfd, so idle waits can be long.
    loop_->RunOnce(executor_->busy() ? 100 : 1000);
    CheckTimeout();
  }
}

}  // namespace meridian::runtime
