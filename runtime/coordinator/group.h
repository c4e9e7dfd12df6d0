// Group membership, apart from any socket: who has joined, when the group
// forms, who is lost, who waits to be admitted, and when a new epoch forms.
// The server feeds it events and carries out the Actions it returns (the
// messages to send); tests drive it directly.
//
// Life of a group:
//   collecting: JOINs accumulate until world_size peers are there; then the
//     group forms (epoch 1) and every joiner gets its ROSTER.
//   formed: members may be lost (connection closed, heartbeat missed, not
//     back after a coordinator restart) and new peers may JOIN (pending).
//     Every loss and arrival is announced to the live members (NOTICE).  An
//     UPDATE from every live member is a step boundary: if anything changed
//     (or a member asked for it), the survivors (old rank order) and the
//     pending joiners (arrival order) form the next epoch; otherwise each
//     gets the unchanged roster back.
//   dissolved: the last member left; pending joiners start collecting anew.
// Rank 0 reports the links it measured (LINK_REPORT); every later roster
// carries the pairs that are still between members (link_store.h).
// A coordinator that restarts adopts the group its first RECONNECT reports
// and waits a grace period for the other members of that epoch.
#ifndef MERIDIAN_RUNTIME_COORDINATOR_GROUP_H_
#define MERIDIAN_RUNTIME_COORDINATOR_GROUP_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/link_store.h"
#include "runtime/coordinator/protocol.h"
#include "transport/socket.h"

namespace meridian::coordinator {

// Identifies one peer connection for the life of the server.
using PeerId = uint64_t;

// What the server must do after an event.
struct Actions {
  std::vector<std::pair<PeerId, ControlMessage>> send;
  // Connections to refuse (ERROR sent, then closed), e.g. pending joiners
  // whose world size does not fit a group that has to form anew.
  std::vector<std::pair<PeerId, absl::Status>> refuse;
  void Append(Actions other);
};

class Group {
 public:
  // recovery_grace_ms: after a restart, how long members of the reported
  // epoch have to reconnect before they count as lost.
  explicit Group(int recovery_grace_ms = 10000);

  // A JOIN whose data address is final.  Before formation: refusals are
  // InvalidArgument (world size or rank out of range) and
  // FailedPrecondition (world size differs, rank taken); a refused joiner
  // leaves no trace.  After formation the joiner is pending (its world size
  // and requested rank are ignored) until the next epoch forms.
  absl::StatusOr<Actions> Admit(PeerId id, const JoinMsg& join);

  // A member reports back after the coordinator restarted.  Refused
  // (FailedPrecondition) when the peer is not a missing member of the
  // current epoch: it was evicted, or the group moved on without it.
  absl::StatusOr<Actions> Reconnect(PeerId id, const ReconnectMsg& msg,
                                    transport::Deadline now);

  // A member reached a step boundary.  Errors: FailedPrecondition when id
  // is not a member.
  absl::StatusOr<Actions> RequestUpdate(PeerId id, const UpdateMsg& msg);

  // Rank 0's measurement of this epoch's links, kept for the rosters of
  // later epochs.  A report that cannot be used (not from rank 0 of the
  // current epoch, members that differ, bad values) changes nothing and is
  // FailedPrecondition or InvalidArgument: the server logs and ignores it,
  // the peer stays a member.
  absl::Status ReportLinks(PeerId id, const LinkReportMsg& report);

  // The peer's connection closed, or it was evicted (silent for the
  // heartbeat timeout); reason says what happened.
  Actions Remove(PeerId id, const std::string& reason, bool evicted = false);

  // Ends the recovery grace period once it has passed.
  Actions Tick(transport::Deadline now);
  std::optional<transport::Deadline> next_deadline() const {
    return recovery_until_;
  }

  bool formed() const { return formed_; }
  bool IsMember(PeerId id) const { return MemberRank(id) >= 0; }
  int world_size() const { return world_size_; }
  uint64_t group_id() const { return group_id_; }
  uint64_t epoch() const { return epoch_; }
  size_t live_members() const;
  size_t pending_joiners() const { return formed_ ? joiners_.size() : 0; }
  // Peers collecting towards the first formation.
  size_t collecting() const { return formed_ ? 0 : joiners_.size(); }
  // Pairs of members whose links are known.
  size_t known_links() const { return links_.size(); }

 private:
  struct Joiner {
    PeerId id;
    int world_size;
    int requested_rank;
    transport::HostPort data_address;
  };
  struct Slot {
    PeerId id = 0;  // 0: lost, or not reconnected yet while recovering
    transport::HostPort data_address;
    bool awaiting = false;  // recovering: not reconnected yet
    bool wants_update = false;
    bool force = false;
  };

  absl::Status Check(const JoinMsg& join) const;
  Actions TryFormFirst();
  Actions TryAdvance();
  Actions FormEpoch(std::vector<PeerId> ids,
                    std::vector<transport::HostPort> addresses);
  // This epoch's roster for every member.
  Actions Rosters() const;
  Actions Notice(int lost_rank, const std::string& reason, bool evicted) const;
  Actions Dissolve();
  int MemberRank(PeerId id) const;
  uint64_t NewGroupId();

  std::mt19937_64 rng_;
  const int recovery_grace_ms_;
  bool formed_ = false;
  int world_size_ = 0;  // collecting: the target; formed: this epoch's size
  uint64_t group_id_ = 0;
  uint64_t epoch_ = 0;
  std::vector<Slot> members_;   // formed: index = rank in this epoch
  std::vector<Joiner> joiners_; // collecting or pending, arrival order
  bool changed_ = false;        // a member was lost in this epoch
  LinkStore links_;             // measured pairs, by member address
  std::optional<transport::Deadline> recovery_until_;
};

}  // namespace meridian::coordinator

#endif  // MERIDIAN_RUNTIME_COORDINATOR_GROUP_H_
