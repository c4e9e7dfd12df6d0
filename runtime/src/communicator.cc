#include "runtime/src/communicator.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "collectives/math/types.h"
#include "planner/choose.h"
#include "runtime/src/link_matrix.h"
#include "runtime/src/link_prober.h"
#include "runtime/src/params.h"
#include "runtime/src/progress_placement.h"
#include "runtime/src/socket_ifname.h"

namespace meridian::runtime {

using planner::Collective;

namespace {
constexpr size_t kMaxCachedPlans = 256;

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

absl::Status Communicator::MeasureLinks(bool full) {
  const int n = roster_.world_size;
  const PlannerOptions& po = options_.planner;
  const bool probe = po.probe >= 1 ? n >= 2 : po.probe == -1 && n >= 3;
  measured_ = false;
  topology_ = planner::Topology::Uniform(n, 0, 1);
  cost_ = planner::CostParams();
  samples_.clear();
  LinkStats stats;
  stats.epoch = roster_.epoch;
  if (probe) {
    const auto start = std::chrono::steady_clock::now();
    // What earlier epochs measured, as the coordinator hands it out: the
    // same on every rank (one roster), so every rank probes the same pairs
    // and builds the same topology.
    const bool use_handed_out = !full && po.probe != PlannerOptions::kProbeAlways;
    std::vector<planner::PairSample> known;
    if (use_handed_out) known = HandedOutSamples(roster_);
    bool done = false;
    if (!known.empty() && HandsOutEverything(roster_)) {
      absl::StatusOr<planner::Topology> t = planner::TopologyFromSamples(n, known);
      if (t.ok()) {
        topology_ = *std::move(t);
        cost_ = HandedOutCost(roster_);
        samples_ = known;
        done = true;
      } else {
        // Every rank got the same matrix and fails alike, so all fall back
        // to probing together.
        MDN_LOG(Warn) << "the links handed out for epoch " << roster_.epoch
                      << " do not make a topology (" << t.status().message()
                      << "); probing every pair";
        known.clear();
      }
    }
    stats.handed_out_pairs = static_cast<int>(known.size());
    if (!done) {
      absl::StatusOr<MeasuredNetwork> t = ProbeLinks(
          roster_.rank, n, po.probe_shape, std::move(known),
          [this](int peer) {
            return links_[peer] != nullptr ? links_[peer]->num_connections() : 1;
          },
          executor_.get(),
          [this](const collectives::OpSpec& spec,
                 std::shared_ptr<const planner::Plan> plan, const void* in,
                 void* out) { return RunNow(spec, std::move(plan), in, out); });
      if (!t.ok()) {
        return absl::Status(t.status().code(),
                            absl::StrCat("measuring the links of epoch ", roster_.epoch,
                                         ": ", t.status().message()));
      }
      topology_ = std::move(t->topology);
      cost_ = t->cost;
      samples_ = t->samples;
      stats.probed_pairs = t->probed_pairs;
      stats.probe_rounds = t->rounds;
      // The coordinator keeps it for the next epochs (and refreshes what it
      // had after a re-probe on drift).
      if (roster_.rank == 0 && membership_) {
        membership_->ReportLinks(LinkReport(roster_, t->samples, cost_));
      }
    }
    measured_ = true;
    stats.measured = true;
    stats.incast_penalty = cost_.incast_penalty;
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MDN_LOG(Info) << "links of epoch " << roster_.epoch << ": " << stats.handed_out_pairs
                  << " pairs handed out by the coordinator, " << stats.probed_pairs
                  << " probed in " << stats.probe_rounds << " rounds (" << stats.seconds
                  << " s): " << topology_.num_regions() << " region(s); reduce "
                  << cost_.gamma_Bps / 1e9 << " GB/s, copy " << cost_.mem_Bps / 1e9
                  << " GB/s, incast penalty " << cost_.incast_penalty;
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (link_stats_.epoch == stats.epoch) {
      stats.passive_exchanges = link_stats_.passive_exchanges;
      stats.passive_adopted = link_stats_.passive_adopted;
    }
    link_stats_ = stats;
  }
  // The probes' own traffic is not what the next step boundary's passive
  // check is about (it measured exactly that), so samples start here.
  for (auto& link : links_) {
    if (link) link->TakePassiveSample();
  }
  for (const transport::HostPort& p : roster_.peers) topology_.names.push_back(p.ToString());
  if (measured_ && roster_.rank == 0 && !po.topology_file.empty()) {
    std::ofstream out(po.topology_file, std::ios::trunc);
    out << planner::SerializeTopology(topology_);
    if (!out) {
      MDN_LOG(Warn) << "cannot write the measured topology to " << po.topology_file
                    << " (MERIDIAN_TOPOLOGY_FILE)";
    }
  }
  if (measured_) FitLinksToPaths();
  return absl::OkStatus();
}

void Communicator::FitLinksToPaths() {
  // Connect time sized each pair's connections for the default target rate;
  // now the rate is known (transport/tcp/path_sizing.h, ConnectionsForRate).
  for (auto& link : links_) {
    if (!link) continue;
    const int p = link->peer();
    link->FitToPath(topology_.bandwidth(roster_.rank, p),
                    topology_.latency(roster_.rank, p) + topology_.latency(p, roster_.rank));
  }
}

LinkStats Communicator::link_stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return link_stats_;
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

Communicator::CachedPlan Communicator::PlanFor(const OpArgs& args) {
  if (args.plan) return CachedPlan{args.plan, -1};
  const auto& spec = args.spec;
  const size_t esize = math::DataTypeSize(spec.dtype);
  PlanKey key{static_cast<int>(spec.collective), spec.count, spec.root, args.in_place,
              spec.op == math::RedOp::kAvg, esize};
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  planner::PlanRequest pr;
  pr.collective = spec.collective;
  pr.rank = roster_.rank;
  pr.world_size = roster_.world_size;
  pr.count = spec.count;
  pr.root = spec.root;
  pr.in_place = args.in_place;
  pr.average = spec.op == math::RedOp::kAvg;
  pr.chunk_elems = std::max<uint64_t>(1, options_.chunk_bytes / esize);
  CachedPlan cached;
  cached.plan = std::make_shared<const planner::Plan>(ChoosePlanFor(pr, esize, &cached.predicted_s));
  if (plans_.size() >= kMaxCachedPlans) plans_.clear();
  plans_.emplace(key, cached);
  return cached;
}

planner::Plan Communicator::ChoosePlanFor(const planner::PlanRequest& request, size_t esize,
                                          double* predicted_s) {
  const PlannerOptions& po = options_.planner;
  *predicted_s = -1;
  const bool forced = po.algo != PlannerOptions::Algo::kAuto;
  // Without measurements only a forced algorithm changes anything: every
  // candidate looks alike on a uniform model.
  if (!measured_ && !forced) return planner::BuildRingPlan(request);
  planner::PlannerConfig config;
  config.forced = forced;
  switch (po.algo) {
    case PlannerOptions::Algo::kTree: config.force = planner::Algorithm::kTree; break;
    case PlannerOptions::Algo::kHierarchical:
      config.force = planner::Algorithm::kHierarchical;
      break;
    default: config.force = planner::Algorithm::kRing; break;
  }
  config.reorder_ring = po.reorder_ring && measured_;
  config.cost = cost_;
  planner::PlanChoice choice = planner::ChoosePlan(topology_, request, esize, config);
  if (po.debug_plan && roster_.rank == 0) {
    MDN_LOG(Warn) << "plan for " << planner::CollectiveName(request.collective) << " of "
                  << request.count * esize << " bytes on " << roster_.world_size
                  << " ranks (epoch " << roster_.epoch << ", "
                  << (measured_ ? "measured links" : "links not measured") << "): "
                  << choice.Explain();
  }
  if (measured_) *predicted_s = choice.chosen.predicted_s;
  return planner::BuildCandidatePlan(choice.chosen, request);
}

void Communicator::NoteOpTime(double seconds, double predicted_s) {
  // Short operations are dominated by wake-ups and skew between ranks, not
  // by the links the prediction is about.
  if (predicted_s < 0.005) return;
  const double ratio = seconds / predicted_s;
  if (drift_ref_ <= 0) {
    drift_ref_ = ratio;
    return;
  }
  drift_hi_ = std::max(drift_hi_, ratio / drift_ref_);
  drift_lo_ = std::min(drift_lo_, ratio / drift_ref_);
  ++timed_ops_;
}

absl::Status Communicator::CheckDrift() {
  const double limit = options_.planner.replan_drift;
  if (!measured_ || limit <= 0) return absl::OkStatus();
  // Every rank runs this at the same step boundary, so every rank takes
  // part in the all-gather, and decides from the same numbers.  A rank's
  // row: how much slower and how much faster its operations ran than
  // predicted, then the payload bytes and seconds its link from each rank
  // received while streaming (transport/link.h, TakePassiveSample).
  const int n = roster_.world_size;
  const size_t width = 2 + 2 * static_cast<size_t>(n);
  std::vector<double> mine(width, 0), all(width * n, 0);
  mine[0] = timed_ops_ > 0 ? drift_hi_ : 1;
  mine[1] = timed_ops_ > 0 ? 1 / std::max(drift_lo_, 1e-9) : 1;
  for (int p = 0; p < n && p < static_cast<int>(links_.size()); ++p) {
    if (!links_[p]) continue;
    const transport::PassiveSample s = links_[p]->TakePassiveSample();
    mine[2 + p] = static_cast<double>(s.bytes);
    mine[2 + n + p] = s.seconds;
  }
  collectives::OpSpec spec;
  spec.collective = Collective::kAllGather;
  spec.dtype = math::DataType::kFloat64;
  spec.count = width;
  planner::PlanRequest pr;
  pr.collective = Collective::kAllGather;
  pr.rank = roster_.rank;
  pr.world_size = n;
  pr.count = width;
  pr.chunk_elems = width;
  MDN_RETURN_IF_ERROR(RunNow(spec, std::make_shared<const planner::Plan>(planner::BuildRingPlan(pr)),
                             mine.data(), all.data()));
  drift_hi_ = drift_lo_ = 1;
  timed_ops_ = 0;
  double slower = 1, faster = 1;
  std::vector<planner::LinkTraffic> traffic(static_cast<size_t>(n) * n);
  for (int r = 0; r < n; ++r) {
    const double* row = all.data() + static_cast<size_t>(r) * width;
    slower = std::max(slower, row[0]);
    faster = std::max(faster, row[1]);
    for (int from = 0; from < n; ++from) {
      traffic[static_cast<size_t>(r) * n + from] = planner::LinkTraffic{row[2 + from], row[2 + n + from]};
    }
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++link_stats_.passive_exchanges;
  }
  if (slower <= limit && faster <= limit) return absl::OkStatus();
  // Operations got slower: if links the traffic timed got markedly slower
  // too, that is where, and plans route around them without probing.  Not
  // asked otherwise: a passive rate is not a probe's (real traffic may be
  // held back by the CPUs; on loopback it runs at a fraction of the probed
  // rate), whereas operation times are compared with the first one after
  // planning, so a constant offset never counts.  Links that got faster
  // are for a probe to find: operations that also ran faster re-probe.
  const bool adopted = slower > limit && AdoptPassiveRates(traffic, limit);
  if (adopted && faster <= limit) {
    MDN_LOG(Info) << "operations ran " << slower << "x slower than predicted; "
                  << "slower links explain it: re-planned without probing";
    return absl::OkStatus();
  }
  MDN_LOG(Warn) << "operations ran " << std::max(slower, faster) << "x off their predicted times "
                << "(MERIDIAN_REPLAN_DRIFT=" << limit << "): re-measuring the links";
  plans_.clear();
  drift_ref_ = 0;
  // Every pair again: the handed-out matrix is what drifted.
  return MeasureLinks(/*full=*/true);
}

bool Communicator::AdoptPassiveRates(const std::vector<planner::LinkTraffic>& traffic,
                                     double factor) {
  planner::PassiveConfig config;
  config.factor = factor;
  planner::PassiveUpdate u = planner::ApplyPassiveRates(topology_, traffic, config);
  MDN_LOG(Debug) << "passive rates at the step boundary: " << u.sampled
                 << " link(s) carried enough to have one, " << u.drifted.size()
                 << " drifted, " << u.shared << " slow by sharing";
  if (u.drifted.empty()) return false;
  // Every rank decides alike; one of them says so.
  if (roster_.rank == 0) {
    for (const planner::DriftedLink& d : u.drifted) {
      MDN_LOG(Warn) << absl::StrFormat(
          "passive: link %d -> %d carried %.4g MB at %.4g MB/s, planned %.4g MB/s: re-planning",
          d.from, d.to, d.bytes / 1e6, d.passive_Bps / 1e6, d.planned_Bps / 1e6);
    }
    for (const auto& [a, b] : u.lowered_trunks) {
      MDN_LOG(Warn) << absl::StrFormat(
          "passive: every flow from region %d to region %d was slow: its trunk is taken "
          "at %.4g MB/s (planned %.4g MB/s)",
          a, b, u.topology.trunk(a, b) / 1e6, topology_.trunk(a, b) / 1e6);
    }
  }
  topology_ = std::move(u.topology);
  plans_.clear();
  drift_ref_ = 0;
  // Connections stay as the probe sized them: a link slowed by loss needs
  // its parallel connections more, not fewer.
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    link_stats_.passive_adopted += static_cast<int>(u.drifted.size());
  }
  // The coordinator hands out what rank 0 reports; within a region the
  // adopted rate has an exact sample form (passive_estimate.h).
  if (planner::AdoptIntoSamples(u, &samples_) > 0 && roster_.rank == 0 && membership_) {
    membership_->ReportLinks(LinkReport(roster_, samples_, cost_));
  }
  return true;
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
