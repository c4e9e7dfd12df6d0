#include "transport/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace meridian::transport {

int MillisLeft(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - Clock::now())
                  .count();
  if (left < 0) return 0;
  if (left > INT_MAX) return INT_MAX;
  return static_cast<int>(left);
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(const std::string& text) {
  HostPort out;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("address '", text, "' is not [HOST]:PORT"));
    }
    out.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("address '", text, "' is not HOST:PORT"));
    }
    out.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' has an invalid port"));
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

absl::Status ErrnoStatus(const std::string& what, int err) {
  std::string msg = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ECONNREFUSED:
    case ECONNABORTED:
    case ENOTCONN:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRINUSE:
      return absl::UnavailableError(msg);
    case ETIMEDOUT:
      return absl::DeadlineExceededError(msg);
    default:
      // kUnknown surfaces as mdnSystemError at the C boundary.
      return absl::UnknownError(msg);
  }
}

namespace {

absl::StatusOr<struct addrinfo*> Resolve(const HostPort& addr, bool passive) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  struct addrinfo* res = nullptr;
  std::string port = std::to_string(addr.port);
  const char* host = addr.host.empty() ? nullptr : addr.host.c_str();
  int rc = getaddrinfo(host, port.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot resolve '", addr.ToString(), "': ", gai_strerror(rc)));
  }
  return res;
}

absl::StatusOr<HostPort> SockaddrToHostPort(const struct sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  HostPort out;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const struct sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    out.port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    out.port = ntohs(in6->sin6_port);
  } else {
    return absl::InternalError("unexpected address family");
  }
  out.host = buf;
  return out;
}

// Waits for fd to become ready for `events`, up to the deadline.
absl::Status WaitReady(int fd, short events, Deadline deadline,
                       const char* what) {
  while (true) {
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, MillisLeft(deadline));
    if (rc > 0) return absl::OkStatus();
    if (rc == 0) {
      return absl::DeadlineExceededError(absl::StrCat(what, " timed out"));
    }
    if (errno != EINTR) return ErrnoStatus(what, errno);
  }
}

}  // namespace

absl::StatusOr<Fd> Listen(const HostPort& addr, int backlog) {
  MDN_ASSIGN_OR_RETURN(struct addrinfo * res, Resolve(addr, true));
  absl::Status last = absl::InternalError("no usable address");
  for (struct addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      last = ErrnoStatus("socket", errno);
      continue;
    }
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      int err = errno;
      last = ErrnoStatus(absl::StrCat("bind ", addr.ToString()), err);
      if (err == EADDRINUSE) {
        last = absl::UnavailableError(
            absl::StrCat("address ", addr.ToString(), " is already in use"));
      }
      continue;
    }
    if (listen(fd.get(), backlog) != 0) {
      last = ErrnoStatus("listen", errno);
      continue;
    }
    freeaddrinfo(res);
    return fd;
  }
  freeaddrinfo(res);
  return last;
}

absl::StatusOr<Fd> Connect(const HostPort& addr, Deadline deadline,
                           bool retry_refused) {
  MDN_ASSIGN_OR_RETURN(struct addrinfo * res, Resolve(addr, false));
  absl::Status last = absl::InternalError("no usable address");
  int backoff_ms = 10;
  while (true) {
    for (struct addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (!fd.valid()) {
        last = ErrnoStatus("socket", errno);
        continue;
      }
      int rc = connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        absl::Status ready = WaitReady(fd.get(), POLLOUT, deadline, "connect");
        if (!ready.ok()) {
          freeaddrinfo(res);
          return absl::DeadlineExceededError(absl::StrCat(
              "connecting to ", addr.ToString(), " timed out"));
        }
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
      if (rc == 0) {
        absl::Status st = SetNonBlocking(fd.get(), false);
        if (!st.ok()) {
          freeaddrinfo(res);
          return st;
        }
        freeaddrinfo(res);
        return fd;
      }
      last = ErrnoStatus(absl::StrCat("connect to ", addr.ToString()), errno);
    }
    if (!retry_refused || !absl::IsUnavailable(last) ||
        MillisLeft(deadline) == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::min(backoff_ms, std::max(1, MillisLeft(deadline)))));
    backoff_ms = std::min(backoff_ms * 2, 200);
  }
  freeaddrinfo(res);
  if (absl::IsUnavailable(last) && MillisLeft(deadline) == 0) {
    return absl::DeadlineExceededError(absl::StrCat(
        "could not connect to ", addr.ToString(), " before the timeout (",
        last.message(), ")"));
  }
  return last;
}

absl::StatusOr<Fd> Accept(int listen_fd, Deadline deadline) {
  MDN_RETURN_IF_ERROR(WaitReady(listen_fd, POLLIN, deadline, "accept"));
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return ErrnoStatus("accept", errno);
  return Fd(fd);
}

absl::StatusOr<HostPort> LocalAddress(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) {
    return ErrnoStatus("getsockname", errno);
  }
  return SockaddrToHostPort(ss);
}

absl::StatusOr<HostPort> PeerAddress(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) {
    return ErrnoStatus("getpeername", errno);
  }
  return SockaddrToHostPort(ss);
}

absl::Status SetNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0) return ErrnoStatus("fcntl", errno);
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) != 0) return ErrnoStatus("fcntl", errno);
  return absl::OkStatus();
}

absl::Status TuneDataSocket(int fd, int buffer_bytes) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return ErrnoStatus("setsockopt TCP_NODELAY", errno);
  }
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  if (buffer_bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  }
  return absl::OkStatus();
}

absl::Status WriteFull(int fd, const void* data, size_t len, Deadline deadline) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      MDN_RETURN_IF_ERROR(WaitReady(fd, POLLOUT, deadline, "send"));
      continue;
    }
    return ErrnoStatus("send", errno);
  }
  return absl::OkStatus();
}

absl::Status ReadFull(int fd, void* data, size_t len, Deadline deadline) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return absl::UnavailableError("connection closed by peer");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      MDN_RETURN_IF_ERROR(WaitReady(fd, POLLIN, deadline, "receive"));
      continue;
    }
    return ErrnoStatus("recv", errno);
  }
  return absl::OkStatus();
}

}  // namespace meridian::transport
