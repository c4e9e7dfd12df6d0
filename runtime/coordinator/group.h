// Group formation, apart from any socket: who has joined, which ranks are
// taken, when the group is complete, and when it has dissolved.  The server
// feeds it events; tests can drive it directly.
#ifndef MERIDIAN_RUNTIME_COORDINATOR_GROUP_H_
#define MERIDIAN_RUNTIME_COORDINATOR_GROUP_H_

#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/protocol.h"

namespace meridian::coordinator {

// Identifies one peer connection for the life of the server.
using PeerId = uint64_t;

class Group {
 public:
  Group();

  // Takes a JOIN whose data address is final.  Refusals: InvalidArgument
  // (world size or rank out of range), FailedPrecondition (world size
  // differs from the group's, rank taken, group already formed).  A refused
  // joiner leaves no trace.
  absl::Status Admit(PeerId id, const JoinMsg& join);

  // Once world_size peers are admitted: assigns the ranks that were not
  // requested (in arrival order, lowest free rank first), forms the group
  // and returns every member's roster.  nullopt while still collecting.
  std::optional<std::vector<std::pair<PeerId, Roster>>> TryForm();

  // The peer's connection closed.  Before formation it is forgotten; after,
  // it stops being a member, and when no member remains the group resets
  // so that the next run can form a new one.
  void Remove(PeerId id);

  bool formed() const { return formed_; }
  int world_size() const { return world_size_; }
  size_t size() const { return peers_.size(); }
  uint64_t group_id() const { return group_id_; }

 private:
  struct Peer {
    PeerId id;
    int requested_rank;
    transport::HostPort data_address;
  };
  void Reset();

  std::mt19937_64 rng_;
  bool formed_ = false;
  int world_size_ = 0;  // 0 while nobody has joined
  uint64_t group_id_ = 0;
  uint64_t epoch_ = 0;
  std::vector<Peer> peers_;  // arrival order
};

}  // namespace meridian::coordinator

#endif  // MERIDIAN_RUNTIME_COORDINATOR_GROUP_H_
