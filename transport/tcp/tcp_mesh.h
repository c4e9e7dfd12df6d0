// Builds the TCP Links of one rank to every other rank: K connections per
// peer pair, each opened with a HELLO frame that names the group, epoch,
// both ranks and the connection index, so stray or mismatched connections
// are refused.
#ifndef MERIDIAN_TRANSPORT_TCP_TCP_MESH_H_
#define MERIDIAN_TRANSPORT_TCP_TCP_MESH_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/event_loop.h"
#include "transport/link.h"
#include "transport/socket.h"

namespace meridian::transport {

struct TcpOptions {
  int connections_per_peer = 2;
  // SO_SNDBUF / SO_RCVBUF per connection (0: kernel autotuning).
  int socket_buffer_bytes = 4 << 20;
  // A message is cut into frames of at most this many bytes, which are
  // spread over the connections.
  size_t frame_bytes = 256 << 10;
  FrameLimits limits;
};

// The listening socket of a rank's data plane.  Opened before joining the
// coordinator so that its port can be advertised.
class TcpListener {
 public:
  static absl::StatusOr<TcpListener> Open(const HostPort& bind_addr);
  const HostPort& address() const { return address_; }
  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
  HostPort address_;
};

struct MeshSpec {
  uint64_t group_id = 0;  // chosen by the coordinator for this group
  uint64_t epoch = 0;
  int rank = 0;
  int world_size = 1;
  std::vector<HostPort> peer_addresses;  // index = rank
  TcpOptions options;
  // The shared secret every connection proves knowledge of; empty: run
  // unauthenticated (the caller has checked that this is allowed).
  std::string auth_token;
  // Polled while connecting (every few tens of milliseconds): a non-OK
  // status ends the attempt with that status (e.g. a peer of this epoch is
  // known to be lost, so waiting for it is pointless).
  std::function<absl::Status()> abort_check;
};

// Connections per peer pair when the user sets none.  One connection is
// enough where there is no bandwidth-delay product to cover (every peer on
// loopback): more only add system calls.  Elsewhere several connections
// keep a long pipe full; the choice from measured round-trip times comes
// with the WAN work.  Deterministic: every rank derives the same value from
// the same roster.
int DefaultConnectionsPerPeer(const std::vector<HostPort>& peers);

// Connects to every peer (rank r dials the ranks above it, accepts from the
// ranks below).  Blocks until every link is up or the deadline passes; a
// peer that never shows up is named in the DeadlineExceeded error.  Returns
// one Link per rank, nullptr at this rank's own index.  The links register
// with `loop` and report to `events`.
absl::StatusOr<std::vector<std::unique_ptr<Link>>> ConnectTcpMesh(
    const MeshSpec& spec, TcpListener& listener, EventLoop* loop,
    LinkEvents* events, Deadline deadline);

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_TCP_TCP_MESH_H_
