// A communicator: this rank's membership in a group, its Links to every
// peer, and the progress thread that runs queued operations in issue order
// through the executor.
//
// Membership changes (runtime/coordinator/membership_client.h tells us of
// them) take effect only between operations, on the progress thread:
//  - a lost peer (link error, coordinator notice, op timeout) breaks the
//    epoch: the operation it cuts, or the next one, fails with the reason,
//    and so do operations already queued;
//  - the next call after that failure re-forms the group (PrepareForCall),
//    as does a step boundary (Update): new roster from the coordinator, new
//    executor, new mesh, operation numbering from 1.
// Rank, size and epoch are atomics: API threads read them while the
// progress thread may be re-forming.
#ifndef MERIDIAN_RUNTIME_SRC_COMMUNICATOR_H_
#define MERIDIAN_RUNTIME_SRC_COMMUNICATOR_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/executor.h"
#include "planner/plan.h"
#include "planner/cost_model.h"
#include "planner/passive_estimate.h"
#include "planner/probe_samples.h"
#include "planner/topology.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/membership_client.h"
#include "runtime/src/comm_options.h"
#include "runtime/src/link_prober.h"
#include "runtime/src/request.h"
#include "transport/event_loop.h"
#include "transport/link.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::runtime {

// How the links of the current epoch were obtained (tests and tools read
// it; nothing depends on it).
struct LinkStats {
  uint64_t epoch = 0;
  bool measured = false;      // plans use measured links (else uniform)
  int handed_out_pairs = 0;   // pairs taken from the coordinator's roster
  int probed_pairs = 0;       // pairs probed for this epoch
  int probe_rounds = 0;       // rounds those probes took
  double seconds = 0;         // probing and merging, wall time
  double incast_penalty = 0;  // the cost model's, as measured or handed out
  // Since the epoch began (kept across a re-probe on drift): step
  // boundaries at which the ranks exchanged their links' passive samples,
  // and links whose passive rate was adopted (planner/passive_estimate.h).
  int passive_exchanges = 0;
  int passive_adopted = 0;
};

class Communicator {
 public:
  // Joins the group at the coordinator and connects to every peer; blocks
  // until done or the connect timeout.  A peer that arrives after the group
  // formed waits until the members admit it (their next Update).
  static absl::StatusOr<std::unique_ptr<Communicator>> Create(const CommOptions& options);
  // Finishes queued operations, then closes everything (leaving the group).
  ~Communicator();

  int rank() const { return rank_.load(); }
  int size() const { return size_.load(); }
  uint64_t epoch() const { return epoch_.load(); }
  int connections_per_peer() const { return connections_per_peer_.load(); }
  // Of the latest measurement (a new epoch, or a re-probe on drift).
  LinkStats link_stats() const;
  const CommOptions& options() const { return options_; }
  // Peers waiting to join, as this rank last heard from the coordinator.
  int local_pending_joiners() const;
  // Shared-state sync's memory: the revision each tensor name had after the
  // last sync this peer took part in.  Used only by the caller's thread.
  std::map<std::string, uint64_t>& synced_revisions() { return synced_revisions_; }

  // Every call into the communicator starts here: if an earlier failure
  // left the group to be re-formed, re-forms it (blocking) so the call runs
  // on the new group.  Errors: those of Update.
  absl::Status PrepareForCall();
  // Step boundary with the coordinator (mdnCommUpdate); blocks.
  absl::Status Update();

  // Queues an operation (arguments already validated).  Thread-safe.
  std::shared_ptr<Request> Submit(const OpArgs& args);

  void SetLastError(const std::string& message);
  std::string LastError() const;

 private:
  struct LostNotice {
    uint64_t epoch;
    int rank;
    bool evicted;
    std::string reason;
  };

  struct CachedPlan {
    std::shared_ptr<const planner::Plan> plan;
    double predicted_s = -1;  // the planner's prediction; < 0: none
    // Links send over their fitted connections (a tree or hierarchy runs
    // several flows over one trunk at once); false: over all of them.
    bool fitted_links = false;
  };

  explicit Communicator(const CommOptions& options);
  absl::Status Connect();
  void ProgressLoop();
  // Starts the next queued operation; false when the queue is empty.
  bool StartNext();
  void RunUpdate(Request& req);
  void RunCollective(const std::shared_ptr<Request>& req);
  void OnOpDone(const std::shared_ptr<Request>& req, absl::Status status);
  // Progress thread: the step-boundary exchange with the coordinator and,
  // if the roster changed, a new mesh.
  absl::Status Reform(bool force);
  absl::Status BuildMesh(const coordinator::Roster& roster, transport::Deadline deadline);
  // Moves what the membership thread learned into the executor.
  void ApplyNotices();
  // Non-OK when a peer of `epoch` is known lost (or this peer evicted).
  absl::Status KnownLoss(uint64_t epoch);
  void CheckTimeout();
  CachedPlan PlanFor(const OpArgs& args);
  // At a step boundary of an unchanged group: one small all-gather of every
  // rank's operation drift and its links' passive samples.  Operations
  // that ran more than MERIDIAN_REPLAN_DRIFT slower than predicted, with
  // links that real traffic showed that much slower than planned, adopt
  // those links' rates and re-plan without probing (AdoptPassiveRates);
  // operations that drifted with no slow link to explain it, or ran
  // faster, re-probe every pair and re-plan.
  absl::Status CheckDrift();
  // traffic[to * n + from]: every rank's samples, gathered.  True when a
  // link drifted and the topology changed (plans are dropped).
  bool AdoptPassiveRates(const std::vector<planner::LinkTraffic>& traffic, double factor);
  void NoteOpTime(double seconds, double predicted_s);
  // Ring, tree or hierarchy for this request on this epoch's network
  // (planner/choose.h), per PlannerOptions; MERIDIAN_DEBUG=plan logs why.
  planner::Plan ChoosePlanFor(const planner::PlanRequest& request, size_t esize,
                              double* predicted_s, bool* fitted_links);
  // Runs one operation of this epoch to completion on the calling
  // (progress) thread, before any queued operation.
  absl::Status RunNow(const collectives::OpSpec& spec,
                      std::shared_ptr<const planner::Plan> plan,
                      const void* input, void* output);
  // RunNow as a RunOperation, for the link prober and the all-gathers
  // that share measurements.
  RunOperation InternalRunner();
  // Measures this epoch's links when PlannerOptions ask for it; otherwise
  // plans use a uniform model.  Pairs the roster hands out are used as
  // they are, unless `full` (a re-probe on drift) or MERIDIAN_PROBE=always
  // asks for every pair; rank 0 reports what was measured to the
  // coordinator, for the next epochs.
  absl::Status MeasureLinks(bool full = false);
  // Lets each link send over only the connections its measured path needs
  // (when the plan of an operation asks for it: UseFittedLinks).
  void FitLinksToPaths();
  void UseFittedLinks(bool fitted);

  const CommOptions options_;
  std::atomic<int> rank_{-1};
  std::atomic<int> size_{0};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int> connections_per_peer_{1};
  transport::HostPort advertised_;
  std::unique_ptr<transport::TcpListener> listener_;
  std::unique_ptr<coordinator::MembershipClient> membership_;
  std::unique_ptr<transport::EventLoop> loop_;

  // Progress-thread state (also touched by Connect before it starts).
  coordinator::Roster roster_;
  std::unique_ptr<collectives::Executor> executor_;
  std::vector<std::unique_ptr<transport::Link>> links_;
  absl::Status broken_;  // why this epoch can run no more operations
  // A member whose coordinator connection closed: the data plane will see
  // its links close, so the running operation is left to find out; the
  // next one fails with this.
  absl::Status departed_;
  uint64_t next_seq_ = 1;
  // This epoch's network as measured (or uniform when not probed): the
  // same on every rank, so every rank derives the same plans.
  planner::Topology topology_;
  planner::CostParams cost_;  // calibrated with the links
  bool measured_ = false;
  // The measured pairs topology_ was built from (handed out or probed):
  // passive rates adopted within a region are written back into them for
  // rank 0's report to the coordinator.
  std::vector<planner::PairSample> samples_;
  mutable std::mutex stats_mu_;
  LinkStats link_stats_;  // guarded by stats_mu_
  using PlanKey = std::tuple<int, uint64_t, int, bool, bool, size_t>;
  std::map<PlanKey, CachedPlan> plans_;
  // Drift of real operations against the predictions made from the last
  // probe (actual / predicted time, relative to the first ratio seen, so a
  // model that is off by a constant factor does not count as drift).
  double drift_ref_ = 0;
  double drift_hi_ = 1, drift_lo_ = 1;
  uint64_t timed_ops_ = 0;

  // Set once a failure that breaks the epoch has been returned; the next
  // call re-forms.  reform_mu_ makes concurrent callers re-form once.
  std::atomic<bool> needs_reform_{false};
  std::mutex reform_mu_;

  std::mutex notice_mu_;  // guards the two below (membership thread writes)
  std::vector<LostNotice> lost_notices_;
  absl::Status evicted_;

  mutable std::mutex mu_;  // guards queue_, stop_, last_error_
  std::deque<std::shared_ptr<Request>> queue_;
  bool stop_ = false;
  std::string last_error_;
  std::map<std::string, uint64_t> synced_revisions_;

  std::thread progress_;
};

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_COMMUNICATOR_H_
