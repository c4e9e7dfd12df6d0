// A joined peer's standing with the coordinator, kept on a thread of its
// own so that it never waits for collectives (nor they for it): heartbeats,
// notices of lost members and pending joiners, the step-boundary UPDATE
// round trip, and reconnection after the coordinator restarts (the data
// plane keeps running meanwhile; only membership changes wait for it).
#ifndef MERIDIAN_RUNTIME_COORDINATOR_MEMBERSHIP_CLIENT_H_
#define MERIDIAN_RUNTIME_COORDINATOR_MEMBERSHIP_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/protocol.h"
#include "transport/socket.h"

namespace meridian::coordinator {

class MembershipClient {
 public:
  struct Callbacks {
    // The coordinator lost member `rank` of `epoch`: evicted (silent for
    // the heartbeat timeout) or its connection closed (crashed or left).
    // Runs on the client's thread; must not block.
    std::function<void(uint64_t epoch, int rank, bool evicted,
                       const std::string& reason)>
        on_member_lost;
    // The coordinator no longer counts this peer as a member.  Runs on the
    // client's thread; must not block.
    std::function<void(const absl::Status& why)> on_evicted;
    // The answer to RequestUpdate has arrived (TakeUpdateReply has it).
    std::function<void()> on_update_reply;
  };

  // Takes over the connection of a client that has joined with `roster`.
  static absl::StatusOr<std::unique_ptr<MembershipClient>> Start(
      std::unique_ptr<CoordinatorClient> joined, const Roster& roster,
      const transport::HostPort& coordinator, const std::string& auth_token,
      const transport::HostPort& data_address, Callbacks callbacks);
  // Closes the connection: the coordinator takes that as leaving.
  ~MembershipClient();

  // Step boundary: asks for the next roster (the same epoch when nothing
  // changed and !force); the coordinator answers once every live member
  // has asked.  Non-blocking, so the caller can keep its data plane moving
  // (aborts still to be sent, closes to be seen) while it waits.
  void RequestUpdate(bool force);
  // The answer, once there: the roster, or Aborted when this peer was
  // evicted (the message says why; a new communicator must join afresh).
  // nullopt while waiting.
  std::optional<absl::StatusOr<Roster>> TakeUpdateReply();
  // Stops waiting (the caller gave up); a late answer is dropped.
  void CancelUpdate();

  // Sends rank 0's measurement of the links (non-blocking).  It goes out
  // before any later UPDATE of this peer, so the coordinator has it when
  // it forms the next epoch; a newer report replaces one not yet sent.
  // Dropped when the coordinator speaks a version without link reports,
  // or when it is larger than a member may send (kMaxLinkPairs pairs,
  // kMemberToCoordinatorLimits).
  void ReportLinks(LinkReportMsg report);

  // Joiners waiting for admission, as of the last notice.
  int pending_joiners() const { return pending_.load(); }
  // Non-OK once the coordinator has refused this peer as a member.
  absl::Status evicted() const;

 private:
  MembershipClient(transport::Fd fd, transport::Fd wake, int heartbeat_ms,
                   int protocol_version, const Roster& roster, const transport::HostPort& coordinator,
                   const std::string& auth_token,
                   const transport::HostPort& data_address, Callbacks callbacks);
  void Run();
  // Reads what is there; false when the connection is gone.
  bool ReadAvailable();
  void Handle(const ControlMessage& msg);
  bool Write(const ControlMessage& msg);
  void Disconnected(const std::string& why);
  void TryReconnect();
  void SetEvicted(const absl::Status& why);

  const transport::HostPort coordinator_;
  const std::string auth_token_;
  const transport::HostPort data_address_;
  const Callbacks callbacks_;
  int heartbeat_ms_;
  std::atomic<int> protocol_version_;  // the coordinator's choice
  transport::Fd fd_;  // client thread only
  transport::Fd wake_;
  std::unique_ptr<FrameAssembler> in_;
  transport::Deadline next_heartbeat_{};
  transport::Deadline next_reconnect_{};
  int reconnect_backoff_ms_ = 0;

  mutable std::mutex mu_;
  Roster roster_;                 // the latest, guarded by mu_
  bool update_wanted_ = false;    // RequestUpdate() awaits an answer
  bool update_force_ = false;
  bool update_sent_ = false;      // on the current connection
  std::optional<Roster> reply_;
  std::optional<LinkReportMsg> report_;  // not sent yet
  absl::Status evicted_;
  bool stop_ = false;
  std::atomic<int> pending_{0};
  std::thread thread_;
};

}  // namespace meridian::coordinator

#endif  // MERIDIAN_RUNTIME_COORDINATOR_MEMBERSHIP_CLIENT_H_
