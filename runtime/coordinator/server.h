// The coordinator's serving loop: one thread, poll(2) over the listening
// socket and every peer connection, all non-blocking, so that a slow or
// silent peer never holds up the others.  Group decisions live in Group;
// this file only moves bytes, enforces time limits and closes connections.
#ifndef MERIDIAN_RUNTIME_COORDINATOR_SERVER_H_
#define MERIDIAN_RUNTIME_COORDINATOR_SERVER_H_

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "runtime/coordinator/group.h"
#include "runtime/coordinator/protocol.h"
#include "transport/socket.h"

namespace meridian::coordinator {

struct ServerOptions {
  // A connection must say HELLO and JOIN within this time, so connections
  // that send nothing do not pile up.  Authentication completes within it
  // too (mac_p travels in the JOIN), and until then a connection counts
  // against max_pending and its frames against kPeerToCoordinatorLimits.
  int handshake_timeout_ms = 10000;
  // Connections still in their handshake; beyond this, new ones are closed
  // at once.
  int max_pending = 1024;
  // How long a refused peer gets to read the ERROR before its connection is
  // closed anyway.
  int linger_ms = 2000;
  // Peers must prove knowledge of this secret; empty: serve only peers that
  // have none either (insecure mode, chosen by the caller).
  std::string auth_token;
  // A peer (joined, pending or member) not heard from for this long is
  // evicted.  Peers send heartbeats every quarter of it, so a timeout
  // tolerates three lost or late ones.  0 disables heartbeats.
  int heartbeat_timeout_ms = 10000;
  // After a restart: how long the members of the group that the first
  // RECONNECT reports have to come back (default: the heartbeat timeout).
  int recovery_grace_ms = 10000;

  // MERIDIAN_COORDINATOR_HANDSHAKE_TIMEOUT_MS,
  // MERIDIAN_COORDINATOR_MAX_PENDING, MERIDIAN_HEARTBEAT_TIMEOUT_MS.
  static ServerOptions FromEnv();
  int heartbeat_interval_ms() const {
    return heartbeat_timeout_ms <= 0 ? 0 : std::max(1, heartbeat_timeout_ms / 4);
  }
};

class Server {
 public:
  // Binds, then serves on a background thread until destroyed.
  // Errors: InvalidArgument (bad address), Unavailable (address in use).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const std::string& listen_address, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const transport::HostPort& address() const { return address_; }

 private:
  struct Conn;

  Server(transport::Fd listen, transport::Fd wake, transport::HostPort address,
         const ServerOptions& options);
  void Run();
  void AcceptAll();
  void OnReadable(Conn& c);
  void OnWritable(Conn& c);
  void Handle(Conn& c, ControlMessage msg);
  void HandleHello(Conn& c, const HelloMsg& hello);
  void HandleJoin(Conn& c, JoinMsg join);
  void HandleReconnect(Conn& c, const ReconnectMsg& msg);
  // Sends and refuses what the group decided.
  void Apply(Actions actions);
  // Checks the MAC that ends a JOIN or RECONNECT; refuses the peer if wrong.
  bool Authenticated(Conn& c, const transport::Mac& mac,
                     const std::vector<uint8_t>& context);
  void Send(Conn& c, const ControlMessage& msg);
  void Refuse(Conn& c, const absl::Status& why);
  void Close(Conn& c, const std::string& why, bool evicted = false);
  // Closes joined peers and members whose connection has already ended
  // (EOF queued but not yet seen by the loop).
  void CloseDeadPeers();
  void ExpireDeadlines();
  void EvictSilentPeers();
  int PollTimeoutMs() const;
  int PendingCount() const;

  transport::Fd listen_;
  transport::Fd wake_;
  transport::HostPort address_;
  ServerOptions options_;
  Group group_;
  PeerId next_id_ = 1;
  std::map<PeerId, std::unique_ptr<Conn>> conns_;
  transport::Deadline accept_paused_until_{};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace meridian::coordinator

#endif  // MERIDIAN_RUNTIME_COORDINATOR_SERVER_H_
