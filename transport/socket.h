// Thin, status-returning wrappers over BSD sockets, shared by the TCP
// transport and the coordinator.  All sockets are IPv4/IPv6 TCP; every
// blocking helper takes an absolute deadline and never waits past it.
#ifndef MERIDIAN_TRANSPORT_SOCKET_H_
#define MERIDIAN_TRANSPORT_SOCKET_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace meridian::transport {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline DeadlineAfterMs(int64_t ms) {
  return Clock::now() + std::chrono::milliseconds(ms);
}
// Milliseconds left until deadline, clamped to [0, INT_MAX].
int MillisLeft(Deadline deadline);

// "HOST:PORT" or "[V6]:PORT"; HOST may be a name.  Port 0 allowed.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};
absl::StatusOr<HostPort> ParseHostPort(const std::string& text);

// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { int f = fd_; fd_ = -1; return f; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Listens on addr (port 0: ephemeral).  EADDRINUSE maps to Unavailable with
// a message naming the address.  SO_REUSEADDR is set so that a restarted
// server can bind while old connections sit in TIME_WAIT.
absl::StatusOr<Fd> Listen(const HostPort& addr, int backlog = 512);

// Connects with a deadline; retries refused connections until the deadline
// when retry_refused is set (peers may start in any order).
// Errors: DeadlineExceeded (timeout), Unavailable (refused, no retry),
// InvalidArgument (host does not resolve).
absl::StatusOr<Fd> Connect(const HostPort& addr, Deadline deadline,
                           bool retry_refused);

// Accepts one connection, waiting until the deadline.
absl::StatusOr<Fd> Accept(int listen_fd, Deadline deadline);

// Local / remote address of a connected or bound socket.
absl::StatusOr<HostPort> LocalAddress(int fd);
absl::StatusOr<HostPort> PeerAddress(int fd);

absl::Status SetNonBlocking(int fd, bool on);
// TCP_NODELAY, keepalive, and send/receive buffers of buffer_bytes (0: leave
// the kernel's autotuning alone).  The kernel caps the buffers at
// net.core.{w,r}mem_max; that is not an error.
absl::Status TuneDataSocket(int fd, int buffer_bytes);

// Blocking exact-length I/O on a (possibly non-blocking) socket, bounded by
// the deadline.  A peer that closes mid-way is Unavailable ("connection
// closed by peer").
absl::Status WriteFull(int fd, const void* data, size_t len, Deadline deadline);
absl::Status ReadFull(int fd, void* data, size_t len, Deadline deadline);

// errno text as a status: Unavailable for connection-level errors
// (ECONNRESET, EPIPE, ECONNREFUSED), DeadlineExceeded for ETIMEDOUT,
// Unknown (a system error) otherwise.
absl::Status ErrnoStatus(const std::string& what, int err);

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_SOCKET_H_
