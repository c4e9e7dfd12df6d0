// Sizing a peer pair's TCP connections from the path they run over: how
// many connections, and how large their socket buffers, so that the
// bandwidth-delay product of a long fat pipe is covered.
//
// One TCP connection carries at most one window per round trip, and its
// window is capped by the socket buffers, which the kernel caps at
// net.core.{w,r}mem_max (4 MiB on stock Debian): at 70 ms that is ~4 MiB /
// 70 ms ≈ 480 Mbit/s whatever the link could do.  K connections carry K
// windows.  So, from the round-trip time the first connection measured:
//   buffers: small (1 MiB) where the RTT is tiny — large buffers only let
//            data go cold in the queues of a LAN or loopback (perf/RESULTS.md)
//            — and the kernel's maximum otherwise;
//   K:       ceil(target rate x RTT / window), within [1, max].
// Both ends of a pair use the K the dialing side chose (it travels in the
// connection hello), so every rank derives the same mesh.
#ifndef MERIDIAN_TRANSPORT_TCP_PATH_SIZING_H_
#define MERIDIAN_TRANSPORT_TCP_PATH_SIZING_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace meridian::transport {

struct SocketLimits {
  int wmem_max = 212992;  // net.core.wmem_max
  int rmem_max = 212992;  // net.core.rmem_max
};

// Reads /proc/sys/net/core/{w,r}mem_max (the defaults above if unreadable).
SocketLimits ReadSocketLimits();

// Below this round-trip time a path counts as local (LAN, loopback).
inline constexpr int64_t kWanRttUs = 1000;
// Buffers of local paths (measured best on loopback; perf/RESULTS.md).
inline constexpr int kLocalBufferBytes = 1 << 20;

struct PathPolicy {
  // The rate one peer pair should be able to fill (bits per second).
  double target_bits_per_s = 10e9;
  int max_connections = 32;
};

// The socket buffer size (send and receive) for a path of this RTT.
int AutoSocketBufferBytes(int64_t rtt_us, const SocketLimits& limits);

// Connections for a path of this RTT whose connections each carry a
// window of at most window_bytes.
int AutoConnections(int64_t rtt_us, int window_bytes, const PathPolicy& policy);

// Once the path's rate is measured (the planner's link probe), the
// connections a pair actually needs: ceil(kPathHeadroom x rate x RTT /
// window), within [1, max_connections].  The connection count fixed at
// connect time assumes the target rate; on a 25 ms path that one window
// already fills, or on a trunk that several pairs cross at once, the extra
// connections only add flows to one tail-drop queue, and the losses they
// cause cost more than they carry (perf/RESULTS.md, europe K sweep).
// The headroom keeps a window in reserve for the one that a loss halves.
inline constexpr double kPathHeadroom = 1.25;
int ConnectionsForRate(double rate_Bps, double rtt_s, int window_bytes,
                       int max_connections);

// The kernel's smoothed RTT estimate of a connected TCP socket (TCP_INFO),
// in microseconds; -1 if unavailable.
int64_t TcpRttUs(int fd);

// Sets SO_SNDBUF/SO_RCVBUF: buffer_bytes > 0 explicitly; 0 leaves the
// kernel's autotuning; < 0 (auto) from the socket's measured RTT.
void SizeSocketBuffers(int fd, int buffer_bytes, const SocketLimits& limits);

// Sets the TCP congestion control `cc` (empty: keep the kernel's).  Unless
// required, only on long paths (RTT >= kWanRttUs) and only where the kernel
// has it; a required one that the kernel lacks is an error naming it.
absl::Status SetCongestionControl(int fd, const std::string& cc, bool required);

// On a long path, data written to a connection whose window has shrunk
// (a loss, slow start) sits in its kernel buffer behind the others' while
// the operation waits for it.  Capping each connection's unsent backlog at
// about one frame keeps frames in the link's own queues, where they go to
// whichever connection drains fastest.  Local paths are left alone.
void LimitUnsentBacklog(int fd, size_t frame_bytes);

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_TCP_PATH_SIZING_H_
