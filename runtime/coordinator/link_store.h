// What the coordinator knows of the links between its members, so that an
// epoch formed after a loss or a join need not measure them again: the
// pairs rank 0 reported (LINK_REPORT), keyed by the two members' data
// addresses.  A peer's rank changes from epoch to epoch, its data address
// does not (its listener lives as long as its communicator), so each new
// roster gets the pairs that are still between members, remapped to the
// new ranks.  Members that leave take their pairs with them.
#ifndef MERIDIAN_RUNTIME_COORDINATOR_LINK_STORE_H_
#define MERIDIAN_RUNTIME_COORDINATOR_LINK_STORE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/protocol.h"
#include "transport/socket.h"

namespace meridian::coordinator {

class LinkStore {
 public:
  // Keeps the pairs of a report about the current epoch.  members: the
  // data address of each rank of the epoch; live[r]: rank r is still a
  // member.  Pairs with a lost rank are not kept (it will not be in the next
  // epoch, and its address may come back as another peer's).  A pair
  // reported again replaces the old one; pairs not in the report stay.
  // InvalidArgument (nothing kept) when the report does not describe these
  // members or carries values no measurement can have.
  absl::Status Accept(const LinkReportMsg& report,
                      const std::vector<transport::HostPort>& members,
                      const std::vector<bool>& live);
  // Drops every pair of this member (it left the group).
  void Forget(const transport::HostPort& member);
  // Drops every pair with a member not among these.
  void Retain(const std::vector<transport::HostPort>& members);
  void Clear();

  // The known pairs between `peers` (index = rank), with a < b as ranks of
  // `peers`, in increasing order; empty when no pair is known, or when two
  // peers share an address (a pair could not be told apart).
  LinkMatrix For(const std::vector<transport::HostPort>& peers) const;
  size_t size() const { return pairs_.size(); }

 private:
  // first < second (as address text); forward_Bps: first -> second.
  using Key = std::pair<std::string, std::string>;
  struct Entry {
    double rtt_s = 0;
    double forward_Bps = 0;
    double backward_Bps = 0;
    uint32_t round = 0;
  };
  std::map<Key, Entry> pairs_;
  double gamma_Bps_ = 0;
  double mem_Bps_ = 0;
  double incast_penalty_ = -1;  // -1: unknown
};

}  // namespace meridian::coordinator

#endif  // MERIDIAN_RUNTIME_COORDINATOR_LINK_STORE_H_
