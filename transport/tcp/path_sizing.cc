#include "transport/tcp/path_sizing.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "transport/socket.h"

namespace meridian::transport {

namespace {
int ReadProcInt(const char* path, int fallback) {
  std::ifstream in(path);
  long long v = 0;
  if (!(in >> v) || v <= 0) return fallback;
  return static_cast<int>(std::min<long long>(v, 1 << 30));
}
}  // namespace

SocketLimits ReadSocketLimits() {
  SocketLimits l;
  l.wmem_max = ReadProcInt("/proc/sys/net/core/wmem_max", l.wmem_max);
  l.rmem_max = ReadProcInt("/proc/sys/net/core/rmem_max", l.rmem_max);
  return l;
}

int AutoSocketBufferBytes(int64_t rtt_us, const SocketLimits& limits) {
  if (rtt_us >= 0 && rtt_us < kWanRttUs) return kLocalBufferBytes;
  return std::max(kLocalBufferBytes, std::min(limits.wmem_max, limits.rmem_max));
}

int AutoConnections(int64_t rtt_us, int window_bytes, const PathPolicy& policy) {
  if (rtt_us <= 0 || window_bytes <= 0) return 1;
  const double bdp_bytes = policy.target_bits_per_s / 8.0 * (rtt_us / 1e6);
  const double k = std::ceil(bdp_bytes / window_bytes);
  return static_cast<int>(std::clamp(k, 1.0, static_cast<double>(policy.max_connections)));
}

int ConnectionsForRate(double rate_Bps, double rtt_s, int window_bytes,
                       int max_connections) {
  const int most = std::max(1, max_connections);
  if (!(rate_Bps > 0) || !(rtt_s > 0) || window_bytes <= 0 ||
      !std::isfinite(rate_Bps) || !std::isfinite(rtt_s)) {
    return most;  // nothing usable measured: keep what the link has
  }
  const double k = std::ceil(kPathHeadroom * rate_Bps * rtt_s / window_bytes);
  return static_cast<int>(std::clamp(k, 1.0, static_cast<double>(most)));
}

int64_t TcpRttUs(int fd) {
  struct tcp_info info = {};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
  return info.tcpi_rtt;
}

void SizeSocketBuffers(int fd, int buffer_bytes, const SocketLimits& limits) {
  if (buffer_bytes == 0) return;
  int bytes = buffer_bytes > 0 ? buffer_bytes : AutoSocketBufferBytes(TcpRttUs(fd), limits);
  // The kernel caps each at its *mem_max; that is not an error.
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

absl::Status SetCongestionControl(int fd, const std::string& cc, bool required) {
  if (cc.empty()) return absl::OkStatus();
  if (!required && TcpRttUs(fd) < kWanRttUs) return absl::OkStatus();
  if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc.data(),
                 static_cast<socklen_t>(cc.size())) == 0) {
    return absl::OkStatus();
  }
  if (!required) {
    MDN_LOG(Info) << "TCP congestion control '" << cc << "' unavailable ("
                  << strerror(errno) << "); keeping the system's default";
    return absl::OkStatus();
  }
  return ErrnoStatus(absl::StrCat("TCP congestion control '", cc,
                                  "' (MERIDIAN_TCP_CONGESTION; see "
                                  "net.ipv4.tcp_available_congestion_control)"),
                     errno);
}

void LimitUnsentBacklog(int fd, size_t frame_bytes) {
  if (TcpRttUs(fd) < kWanRttUs) return;
  int lowat = static_cast<int>(std::min<size_t>(frame_bytes, 1 << 30));
  setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

}  // namespace meridian::transport
