// The Communicator's planning side: measuring the links of each epoch
// (probes, or the matrix the coordinator hands out), fitting the links'
// connections to them, choosing and caching plans, and keeping the
// estimates fresh (op-time drift, passive link rates) at step boundaries.
// The rest of the Communicator (membership, the progress loop, running
// requests) is in communicator.cc.
#include <algorithm>
#include <chrono>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "collectives/math/types.h"
#include "planner/choose.h"
#include "runtime/src/communicator.h"
#include "runtime/src/link_matrix.h"
#include "runtime/src/link_prober.h"

namespace meridian::runtime {

using planner::Collective;

namespace {
// Plans kept per epoch; beyond this the cache starts over (sizes and
// types seen in practice are few).
constexpr size_t kMaxCachedPlans = 256;
}  // namespace

RunOperation Communicator::InternalRunner() {
  return [this](const collectives::OpSpec& spec, std::shared_ptr<const planner::Plan> plan,
                const void* in, void* out) { return RunNow(spec, std::move(plan), in, out); };
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
          InternalRunner());
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

void Communicator::UseFittedLinks(bool fitted) {
  for (auto& link : links_) {
    if (link) link->SendOverAll(!fitted);
  }
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
  cached.plan = std::make_shared<const planner::Plan>(
      ChoosePlanFor(pr, esize, &cached.predicted_s, &cached.fitted_links));
  if (plans_.size() >= kMaxCachedPlans) plans_.clear();
  plans_.emplace(key, cached);
  return cached;
}

planner::Plan Communicator::ChoosePlanFor(const planner::PlanRequest& request, size_t esize,
                                          double* predicted_s, bool* fitted_links) {
  const PlannerOptions& po = options_.planner;
  *predicted_s = -1;
  *fitted_links = false;
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
  // A ring runs one flow per link: it keeps every connection (and its
  // congestion window).  Trees and hierarchies run several flows over one
  // trunk or NIC at once, where fewer connections each lose less.
  *fitted_links = measured_ && choice.chosen.algorithm != planner::Algorithm::kRing;
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
  std::vector<double> mine(width, 0);
  mine[0] = timed_ops_ > 0 ? drift_hi_ : 1;
  mine[1] = timed_ops_ > 0 ? 1 / std::max(drift_lo_, 1e-9) : 1;
  for (int p = 0; p < n && p < static_cast<int>(links_.size()); ++p) {
    if (!links_[p]) continue;
    const transport::PassiveSample s = links_[p]->TakePassiveSample();
    mine[2 + p] = static_cast<double>(s.bytes);
    mine[2 + n + p] = s.seconds;
  }
  MDN_ASSIGN_OR_RETURN(
      const std::vector<double> all,
      AllGatherDoubles(roster_.rank, n, mine, InternalRunner()));
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

}  // namespace meridian::runtime
