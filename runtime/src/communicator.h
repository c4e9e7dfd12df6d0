// A communicator: this rank's membership in a group, its Links to every
// peer, and the progress thread that runs queued operations in issue order
// through the executor.
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
#include "runtime/coordinator/coordinator.h"
#include "runtime/src/comm_options.h"
#include "runtime/src/request.h"
#include "transport/event_loop.h"
#include "transport/link.h"

namespace meridian::runtime {

class Communicator {
 public:
  // Joins the group at the coordinator and connects to every peer; blocks
  // until done or the connect timeout.
  static absl::StatusOr<std::unique_ptr<Communicator>> Create(const CommOptions& options);
  // Finishes queued operations, then closes everything.
  ~Communicator();

  int rank() const { return roster_.rank; }
  int size() const { return roster_.world_size; }
  uint64_t epoch() const { return roster_.epoch; }
  int connections_per_peer() const { return connections_per_peer_; }
  const CommOptions& options() const { return options_; }
  // Shared-state sync's memory: the revision each tensor name had after the
  // last sync this peer took part in.  Used only by the caller's thread.
  std::map<std::string, uint64_t>& synced_revisions() { return synced_revisions_; }

  // Queues an operation (arguments already validated).  Thread-safe.
  std::shared_ptr<Request> Submit(const OpArgs& args);

  void SetLastError(const std::string& message);
  std::string LastError() const;

 private:
  explicit Communicator(const CommOptions& options);
  absl::Status Connect();
  void ProgressLoop();
  // Starts the next queued operation; false when the queue is empty.
  bool StartNext();
  void CheckTimeout();
  std::shared_ptr<const planner::Plan> PlanFor(const OpArgs& args);

  const CommOptions options_;
  coordinator::Roster roster_;
  int connections_per_peer_ = 1;
  std::unique_ptr<coordinator::CoordinatorClient> coordinator_;
  std::unique_ptr<transport::EventLoop> loop_;
  std::vector<std::unique_ptr<transport::Link>> links_;
  std::unique_ptr<collectives::Executor> executor_;

  mutable std::mutex mu_;  // guards queue_, stop_, last_error_
  std::deque<std::shared_ptr<Request>> queue_;
  bool stop_ = false;
  std::string last_error_;
  std::map<std::string, uint64_t> synced_revisions_;

  // Progress-thread state.
  std::thread progress_;
  uint64_t next_seq_ = 1;
  using PlanKey = std::tuple<int, uint64_t, int, bool, bool, size_t>;
  std::map<PlanKey, std::shared_ptr<const planner::Plan>> plans_;
};

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_COMMUNICATOR_H_
