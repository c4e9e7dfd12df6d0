// The coordinator: the rendezvous service through which peers find each
// other.  Each peer connects, says HELLO, asks to JOIN a group of world_size
// peers with its data-plane address, and receives the group's Roster once
// world_size peers have joined.  The peer keeps the connection open for the
// life of its membership: the coordinator learns that a peer left when that
// connection closes.
//
// The wire protocol (control frames, message types, version negotiation) is
// in protocol.h; the serving loop in server.h.
#ifndef MERIDIAN_RUNTIME_COORDINATOR_COORDINATOR_H_
#define MERIDIAN_RUNTIME_COORDINATOR_COORDINATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/auth.h"
#include "transport/socket.h"

namespace meridian::coordinator {

class Server;

// One measured pair of ranks (a < b): what the ranks' probes found, kept
// raw so that regions and trunks can be derived again for another group
// (planner/probe_samples.h).
struct LinkPair {
  int32_t a = 0;
  int32_t b = 0;
  double rtt_s = 0;       // round trip, seconds
  double a_to_b_Bps = 0;  // bytes per second from a to b
  double b_to_a_Bps = 0;
  uint32_t round = 0;  // pairs with one tag were measured at the same time
};

// Measured links of a group, with the compute rates its ranks agreed on.
struct LinkMatrix {
  double gamma_Bps = 0;  // reduce rate (0: unknown)
  double mem_Bps = 0;    // copy rate (0: unknown)
  // Receiver goodput lost per extra inbound flow, from the fan-in probe
  // (planner/fan_in_probe.h); within [0, 1], or -1: unknown.
  double incast_penalty = -1;
  std::vector<LinkPair> pairs;  // strictly increasing (a, b)
  bool empty() const {
    return pairs.empty() && gamma_Bps == 0 && mem_Bps == 0 && incast_penalty < 0;
  }
};

struct Roster {
  uint64_t group_id = 0;  // random, chosen by the coordinator per group
  uint64_t epoch = 0;     // 1 for the first formation
  int rank = -1;          // this peer's rank
  int world_size = 0;
  std::vector<transport::HostPort> peers;  // data-plane address of each rank
  // The pairs of this epoch's ranks that an earlier epoch measured, as rank
  // 0 reported them (runtime/coordinator/link_store.h); a pair absent here
  // (a joiner's, or all of them at formation) has to be probed.
  LinkMatrix links;
};

class Coordinator {
 public:
  // listen_address "HOST:PORT" (port 0 = ephemeral). Serves on a background
  // thread.  Every peer must prove knowledge of auth_token; an empty token
  // serves unauthenticated peers only (the caller decides whether that is
  // allowed: transport::ResolveAuthToken, meridian-coordinator --insecure).
  // Errors: InvalidArgument (bad address), Unavailable (address in use,
  // message names it).
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(
      const std::string& listen_address, const std::string& auth_token);
  ~Coordinator();               // stops the thread, closes every socket
  std::string address() const;  // bound "HOST:PORT" with the real port

 private:
  explicit Coordinator(std::unique_ptr<Server> server);
  std::unique_ptr<Server> server_;
};

class CoordinatorClient {
 public:
  // Connects (retrying refused connections until the deadline: peers may
  // start before the coordinator).
  // Errors: DeadlineExceeded naming the address; InvalidArgument
  // (unresolvable).
  // auth_token: the shared secret Join proves and demands (empty: join an
  // unauthenticated coordinator only).
  static absl::StatusOr<std::unique_ptr<CoordinatorClient>> Connect(
      const transport::HostPort& coordinator, const std::string& auth_token,
      transport::Deadline deadline);
  // Host (IP text) of the local interface that reaches the coordinator
  // (getsockname).
  std::string local_host() const;
  // Registers this peer (requested_rank -1 = let the coordinator pick) and
  // blocks until the group of world_size peers has formed.  A data_address
  // whose host is empty or a wildcard ("0.0.0.0", "::") is advertised with
  // the host the coordinator sees this connection come from.
  // Errors: DeadlineExceeded; FailedPrecondition when the coordinator
  // refuses (world size differs from the group's: message names both sizes;
  // requested rank already taken; group already formed); InvalidArgument
  // (rank out of range, world_size < 1); Unavailable (coordinator closed the
  // connection); PermissionDenied when either side fails authentication
  // (wrong token, or a token on one side only).  A coordinator that answers with something malformed is
  // DataLoss.  After a failed Join the connection is closed: Connect again.
  absl::StatusOr<Roster> Join(int world_size, int requested_rank,
                              const transport::HostPort& data_address,
                              transport::Deadline deadline);

  // Reports back to a coordinator that has restarted: this peer is `rank`
  // of `roster`'s group and epoch.  Errors as Join's; FailedPrecondition
  // when the coordinator no longer counts this peer as a member (evicted,
  // or the group moved on).
  absl::Status Rejoin(const Roster& roster,
                      const transport::HostPort& data_address,
                      transport::Deadline deadline);

  // After Join/Rejoin: the connection, for the membership client to keep.
  transport::Fd ReleaseFd() { return std::move(fd_); }
  // How often the coordinator wants heartbeats (from its WELCOME; 0: never).
  int heartbeat_interval_ms() const { return heartbeat_interval_ms_; }
  // The protocol version the coordinator chose (from its WELCOME; 0 before).
  int protocol_version() const { return protocol_version_; }

  ~CoordinatorClient();

 private:
  CoordinatorClient(transport::Fd fd, transport::HostPort coordinator,
                    std::string local_host, std::string auth_token);
  // HELLO -> WELCOME, checking the coordinator's proof of the token.
  // Returns the nonces for the peer's own MAC.
  struct Greeting {
    transport::Nonce own{};
    transport::Nonce theirs{};
  };
  absl::StatusOr<Greeting> Greet(transport::Deadline deadline);
  transport::Fd fd_;
  int heartbeat_interval_ms_ = 0;
  int protocol_version_ = 0;
  std::string auth_token_;
  transport::HostPort coordinator_;
  std::string local_host_;
  bool joined_ = false;
};

}  // namespace meridian::coordinator

#endif  // MERIDIAN_RUNTIME_COORDINATOR_COORDINATOR_H_
