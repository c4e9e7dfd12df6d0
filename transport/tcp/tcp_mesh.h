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
#include "transport/tcp/path_sizing.h"

namespace meridian::transport {

inline constexpr uint32_t kMaxConnectionsPerPeer = 256;

struct TcpOptions {
  // K; 0: chosen per peer pair by the dialing side from the RTT its first
  // connection measured (path_sizing.h).
  int connections_per_peer = 0;
  // SO_SNDBUF / SO_RCVBUF per connection: > 0 that many bytes; 0 the
  // kernel's autotuning; < 0 from the measured RTT (path_sizing.h).
  int socket_buffer_bytes = -1;
  // What auto K aims for.
  PathPolicy path;
  // TCP congestion control for the data connections ("cubic", "bbr", ...);
  // empty: the system default.  Unless congestion_control_required, it is
  // applied only to long paths (RTT >= kWanRttUs) and only if the kernel
  // has it.  Why cubic by default: on the emulated transatlantic trunk,
  // many parallel BBR connections overfill the shared queue (7x the drops
  // of cubic) and reach 79% of the link against cubic's 90% (perf/RESULTS.md).
  std::string congestion_control = "cubic";
  bool congestion_control_required = false;
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

// Connects to every peer (rank r dials the ranks above it, accepts from the
// ranks below).  Blocks until every link is up or the deadline passes; a
// peer that never shows up is named in the DeadlineExceeded error.  Returns
// one Link per rank, nullptr at this rank's own index; pairs may have
// different K in auto mode (Link::num_connections).  The links register
// with `loop` and report to `events`.
absl::StatusOr<std::vector<std::unique_ptr<Link>>> ConnectTcpMesh(
    const MeshSpec& spec, TcpListener& listener, EventLoop* loop,
    LinkEvents* events, Deadline deadline);

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_TCP_TCP_MESH_H_
