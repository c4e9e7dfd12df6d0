// Mesh set-up: every connection this rank dials and every connection it
// accepts is driven by one poll() loop, so a slow peer on one side never
// delays the handshakes of the others (a rank that waited for its dials
// before accepting could make lower ranks time out their handshakes).
#include "transport/tcp/tcp_mesh.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/env.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "transport/tcp/tcp_handshake.h"
#include "transport/tcp/tcp_link.h"

MDN_PARAM(TcpHandshakeTimeoutMs, "TCP_HANDSHAKE_TIMEOUT_MS", 10000)

namespace meridian::transport {

absl::StatusOr<TcpListener> TcpListener::Open(const HostPort& bind_addr) {
  TcpListener l;
  MDN_ASSIGN_OR_RETURN(l.fd_, Listen(bind_addr));
  // The mesh accepts inside a poll loop and must never block in accept().
  MDN_RETURN_IF_ERROR(SetNonBlocking(l.fd_.get(), true));
  MDN_ASSIGN_OR_RETURN(l.address_, LocalAddress(l.fd_.get()));
  return l;
}

namespace {

// Retry pacing for dials that are refused (the peer is not listening yet).
constexpr int kFirstBackoffMs = 10;
constexpr int kMaxBackoffMs = 200;
// Connections that have not said hello yet; beyond this, new ones are
// dropped at once so that a flood cannot exhaust descriptors.
constexpr size_t kMaxPendingIncoming = 1024;

struct Outgoing {
  enum class Phase { kIdle, kConnecting, kAwaitReply, kDone };
  int peer = 0;
  uint32_t index = 0;
  Phase phase = Phase::kIdle;
  Fd fd;
  Deadline retry_at{};    // kIdle: when to dial
  Deadline give_up_at{};  // this attempt's handshake timeout
  int backoff_ms = kFirstBackoffMs;
  Hello hello;  // as sent on this attempt: the MACs bind its fields
  FrameReader reply;
  std::string last_error = "no connection attempt completed";
};

struct Incoming {
  Fd fd;
  // The whole handshake (hello and confirmation) must fit in one timeout.
  Deadline give_up_at{};
  std::string from;  // remote address, for logs
  FrameReader frame;
  // Set once the hello was accepted; the connection is used only after the
  // dialer's confirmation proves the token.
  std::optional<Hello> hello;
  Nonce nonce{};  // ours, sent in the reply
};

struct Target {
  struct sockaddr_storage addr;
  socklen_t len = 0;
};

class MeshBuilder {
 public:
  MeshBuilder(const MeshSpec& spec, int listen_fd, Deadline deadline)
      : spec_(spec),
        listen_fd_(listen_fd),
        deadline_(deadline),
        fixed_k_(static_cast<uint32_t>(spec.options.connections_per_peer)),
        k_(spec.world_size, fixed_k_),
        limits_(ReadSocketLimits()),
        hs_timeout_(std::chrono::milliseconds(
            std::max<int64_t>(1, param::TcpHandshakeTimeoutMs()))),
        conns_(spec.world_size),
        refused_(spec.world_size) {}

  absl::Status Run();
  std::vector<Fd> TakeConnections(int peer) { return std::move(conns_[peer]); }

 private:
  std::string Name(int rank) const {
    return absl::StrCat("rank ", rank, " (",
                        spec_.peer_addresses[rank].ToString(), ")");
  }
  absl::Status Resolve();
  bool Complete() const;
  bool NeedAccept() const;
  void Retry(Outgoing& o, std::string why);
  void StartDial(Outgoing& o);
  absl::Status OnDialReady(Outgoing& o, short revents);
  void AcceptAll();
  bool OnIncomingReady(Incoming& in);  // true: finished with it
  // Auto mode: K for the pair of `first` (our first connection to it, just
  // connected) from its RTT; queues the other dials.
  void DecideConnections(const Outgoing& first);
  bool OnHello(Incoming& in);
  bool OnConfirm(Incoming& in);
  absl::Status TimeoutError() const;

  const MeshSpec& spec_;
  const int listen_fd_;
  const Deadline deadline_;
  const uint32_t fixed_k_;  // 0: auto, per pair
  // Per peer: its connections (0 until decided: by our first connection's
  // RTT when we dial, by its hello when it dials).
  std::vector<uint32_t> k_;
  const SocketLimits limits_;
  const Clock::duration hs_timeout_;
  std::vector<Target> targets_;
  std::vector<Outgoing> dials_;
  // Dials decided while dials_ is being walked; appended after each round.
  std::vector<Outgoing> new_dials_;
  std::vector<Incoming> incoming_;
  std::vector<std::vector<Fd>> conns_;  // [peer][connection index]
  // Why the last hello claiming to come from a lower rank was refused, for
  // the timeout error: "refused: epoch mismatch" beats "never connected".
  std::vector<std::string> refused_;
};

absl::Status MeshBuilder::Resolve() {
  targets_.resize(spec_.world_size);
  for (int p = spec_.rank + 1; p < spec_.world_size; ++p) {
    const HostPort& hp = spec_.peer_addresses[p];
    struct addrinfo hints = {};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* res = nullptr;
    int rc = getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(),
                         &hints, &res);
    if (rc != 0 || res == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot resolve the address of ", Name(p), ": ", gai_strerror(rc)));
    }
    memcpy(&targets_[p].addr, res->ai_addr, res->ai_addrlen);
    targets_[p].len = res->ai_addrlen;
    freeaddrinfo(res);
    // In auto mode only the first connection is dialed at once: the RTT it
    // measures decides how many more this pair gets.
    for (uint32_t i = 0; i < std::max<uint32_t>(fixed_k_, 1); ++i) {
      Outgoing o;
      o.peer = p;
      o.index = i;
      dials_.push_back(std::move(o));
    }
  }
  for (int p = 0; p < spec_.world_size; ++p) {
    conns_[p].resize(p == spec_.rank ? 0 : (p > spec_.rank ? std::max<uint32_t>(k_[p], 1) : k_[p]));
  }
  return absl::OkStatus();
}

void MeshBuilder::DecideConnections(const Outgoing& first) {
  const int64_t rtt_us = TcpRttUs(first.fd.get());
  const int window = spec_.options.socket_buffer_bytes > 0
                         ? spec_.options.socket_buffer_bytes
                         : AutoSocketBufferBytes(rtt_us, limits_);
  const uint32_t k = static_cast<uint32_t>(
      std::min<int>(AutoConnections(rtt_us, window, spec_.options.path),
                    static_cast<int>(kMaxConnectionsPerPeer)));
  k_[first.peer] = k;
  conns_[first.peer].resize(k);
  for (uint32_t i = 1; i < k; ++i) {
    Outgoing o;
    o.peer = first.peer;
    o.index = i;
    new_dials_.push_back(std::move(o));
  }
  MDN_LOG(Info) << "path to " << Name(first.peer) << ": rtt " << rtt_us << " us, "
                << k << " connection(s) of " << window << "-byte buffers";
}

bool MeshBuilder::NeedAccept() const {
  for (int p = 0; p < spec_.rank; ++p) {
    if (conns_[p].empty()) return true;  // K not known yet: nothing arrived
    for (const Fd& fd : conns_[p]) {
      if (!fd.valid()) return true;
    }
  }
  return false;
}

bool MeshBuilder::Complete() const {
  for (const Outgoing& o : dials_) {
    if (o.phase != Outgoing::Phase::kDone) return false;
  }
  return !NeedAccept();
}

void MeshBuilder::Retry(Outgoing& o, std::string why) {
  o.fd.reset();
  o.phase = Outgoing::Phase::kIdle;
  o.last_error = std::move(why);
  o.retry_at = Clock::now() + std::chrono::milliseconds(o.backoff_ms);
  o.backoff_ms = std::min(o.backoff_ms * 2, kMaxBackoffMs);
}

void MeshBuilder::StartDial(Outgoing& o) {
  const Target& t = targets_[o.peer];
  Fd fd(
      socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Retry(o, absl::StrCat("socket: ", strerror(errno)));
  // Explicit buffers before connect(), so the window scale in the SYN can
  // use them; automatic ones wait for the RTT (the kernel scales the
  // window for its maximum buffers anyway).
  absl::Status tuned = TuneDataSocket(
      fd.get(), std::max(0, spec_.options.socket_buffer_bytes));
  if (!tuned.ok()) return Retry(o, std::string(tuned.message()));
  if (connect(fd.get(), reinterpret_cast<const struct sockaddr*>(&t.addr),
              t.len) != 0 &&
      errno != EINPROGRESS) {
    return Retry(o, absl::StrCat("connect: ", strerror(errno)));
  }
  o.fd = std::move(fd);
  o.phase = Outgoing::Phase::kConnecting;
  o.give_up_at = Clock::now() + hs_timeout_;
  o.reply = FrameReader();
}

absl::Status MeshBuilder::OnDialReady(Outgoing& o, short revents) {
  if (o.phase == Outgoing::Phase::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(o.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Retry(o, absl::StrCat("connect: ", strerror(err)));
      return absl::OkStatus();
    }
    if (k_[o.peer] == 0) DecideConnections(o);
    Hello& hello = o.hello;
    hello.group_id = spec_.group_id;
    hello.epoch = spec_.epoch;
    hello.from_rank = spec_.rank;
    hello.to_rank = o.peer;
    hello.conn_index = o.index;
    hello.num_connections = k_[o.peer];
    hello.authenticated = !spec_.auth_token.empty();
    hello.nonce = NewNonce();  // fresh per attempt: no replayable transcript
    std::vector<uint8_t> frame = EncodeHelloFrame(hello);
    // A fresh socket's buffer always takes ~80 bytes whole; a short write
    // means the connection is already broken.
    ssize_t n = send(o.fd.get(), frame.data(), frame.size(),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(frame.size())) {
      Retry(o, absl::StrCat("sending hello: ",
                            n < 0 ? strerror(errno) : "short write"));
      return absl::OkStatus();
    }
    o.phase = Outgoing::Phase::kAwaitReply;
    return absl::OkStatus();
  }
  absl::Status st = o.reply.Read(o.fd.get(), kHandshakeLimits);
  if (absl::IsInvalidArgument(st)) {
    return absl::FailedPreconditionError(absl::StrCat(
        Name(o.peer),
        " answered the handshake with a malformed frame: ", st.message()));
  }
  if (!st.ok()) {
    // Closed before replying: the peer may be restarting; dial again.
    Retry(o, absl::StrCat("handshake: ", st.message()));
    return absl::OkStatus();
  }
  if (!o.reply.done()) return absl::OkStatus();
  if (o.reply.header().type != FrameType::kHello) {
    return absl::FailedPreconditionError(absl::StrCat(
        Name(o.peer), " answered the handshake with a frame of type ",
        static_cast<int>(o.reply.header().type), " instead of a hello reply"));
  }
  absl::StatusOr<HelloReply> reply = DecodeHelloReply(o.reply.payload());
  if (!reply.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(Name(o.peer), " answered the handshake with ",
                     reply.status().message()));
  }
  if (!reply->accepted) {
    std::string why = absl::StrCat(Name(o.peer), " refused connection ",
                                   o.index, ": ", reply->reason);
    return reply->auth_refused ? absl::PermissionDeniedError(why)
                               : absl::FailedPreconditionError(why);
  }
  const std::vector<uint8_t> context = HelloAuthContext(o.hello);
  bool peer_proved = true;
  HelloConfirm confirm;
  if (!spec_.auth_token.empty()) {
    Mac expected = HandshakeMac(spec_.auth_token, kMeshAuthLabel,
                                kMeshAcceptorRole, reply->nonce,
                                o.hello.nonce, context);
    peer_proved = MacEquals(expected, reply->mac);
    confirm.mac = HandshakeMac(spec_.auth_token, kMeshAuthLabel,
                               kMeshDialerRole, o.hello.nonce, reply->nonce,
                               context);
  }
  // Sent even when the peer failed to prove the token, so that it too
  // reaches a verdict (and logs it) instead of waiting for a timeout; the
  // MAC is bound to this connection's nonces and useless elsewhere.
  std::vector<uint8_t> frame = EncodeHelloConfirmFrame(confirm);
  ssize_t n = send(o.fd.get(), frame.data(), frame.size(),
                   MSG_NOSIGNAL | MSG_DONTWAIT);
  if (!peer_proved) {
    return absl::PermissionDeniedError(absl::StrCat(
        "authentication failed: ", Name(o.peer),
        " does not know the token (MERIDIAN_AUTH_TOKEN must be the same on "
        "every peer)"));
  }
  if (n != static_cast<ssize_t>(frame.size())) {
    Retry(o, absl::StrCat("sending hello confirmation: ",
                          n < 0 ? strerror(errno) : "short write"));
    return absl::OkStatus();
  }
  conns_[o.peer][o.index] = std::move(o.fd);
  o.phase = Outgoing::Phase::kDone;
  return absl::OkStatus();
}

void MeshBuilder::AcceptAll() {
  while (true) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    Fd fd(accept4(listen_fd_, reinterpret_cast<struct sockaddr*>(&ss), &len,
                  SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        MDN_LOG(Warn) << "accept on the data listener failed: "
                      << strerror(errno);
      }
      return;
    }
    if (incoming_.size() >= kMaxPendingIncoming) continue;  // closes fd
    Incoming in;
    absl::StatusOr<HostPort> from = PeerAddress(fd.get());
    in.from = from.ok() ? from->ToString() : "an unknown address";
    in.fd = std::move(fd);
    in.give_up_at = Clock::now() + hs_timeout_;
    incoming_.push_back(std::move(in));
  }
}

bool MeshBuilder::OnIncomingReady(Incoming& in) {
  absl::Status st = in.frame.Read(in.fd.get(), kHandshakeLimits);
  if (!st.ok()) {
    MDN_LOG(Info) << "dropping connection from " << in.from << ": "
                  << st.message();
    return true;
  }
  if (!in.frame.done()) return false;
  if (in.frame.header().type != FrameType::kHello) {
    MDN_LOG(Info) << "dropping connection from " << in.from
                  << ": it did not start with a hello";
    return true;
  }
  return in.hello ? OnConfirm(in) : OnHello(in);
}

bool MeshBuilder::OnHello(Incoming& in) {
  HelloReply reply;
  absl::StatusOr<Hello> hello = DecodeHello(in.frame.payload());
  reply.reason = hello.ok() ? CheckHello(*hello, spec_, &reply.auth_refused)
                            : std::string(hello.status().message());
  if (reply.reason.empty()) {
    const uint32_t known = k_[hello->from_rank];
    if (known != 0 && hello->num_connections != known) {
      reply.reason = absl::StrCat("connections-per-peer mismatch: connection ",
                                  hello->conn_index, " says ", hello->num_connections,
                                  " but this pair's earlier ones said ", known);
    }
  }
  reply.accepted = reply.reason.empty();
  if (reply.accepted && !spec_.auth_token.empty()) {
    in.nonce = NewNonce();
    reply.nonce = in.nonce;
    reply.mac = HandshakeMac(spec_.auth_token, kMeshAuthLabel,
                             kMeshAcceptorRole, in.nonce, hello->nonce,
                             HelloAuthContext(*hello));
  }
  std::vector<uint8_t> frame = EncodeHelloReplyFrame(reply);
  ssize_t n = send(in.fd.get(), frame.data(), frame.size(),
                   MSG_NOSIGNAL | MSG_DONTWAIT);
  if (!reply.accepted) {
    MDN_LOG(Warn) << "refused connection from " << in.from << ": "
                  << reply.reason;
    if (hello.ok() && hello->from_rank >= 0 && hello->from_rank < spec_.rank) {
      refused_[hello->from_rank] = reply.reason;
    }
    return true;
  }
  if (n != static_cast<ssize_t>(frame.size())) {
    // The dialer sees the close and dials again.
    MDN_LOG(Info) << "dropping connection from " << in.from
                  << ": reply not sent";
    return true;
  }
  in.hello = *hello;
  in.frame = FrameReader();
  return false;
}

bool MeshBuilder::OnConfirm(Incoming& in) {
  const Hello& hello = *in.hello;
  absl::StatusOr<HelloConfirm> confirm = DecodeHelloConfirm(in.frame.payload());
  if (!confirm.ok()) {
    MDN_LOG(Info) << "dropping connection from " << in.from << ": "
                  << confirm.status().message();
    return true;
  }
  if (!spec_.auth_token.empty()) {
    Mac expected =
        HandshakeMac(spec_.auth_token, kMeshAuthLabel, kMeshDialerRole,
                     hello.nonce, in.nonce, HelloAuthContext(hello));
    if (!MacEquals(expected, confirm->mac)) {
      // The rank in the hello is only a claim, but naming it is what lets
      // the deadline error point at the peer whose token is wrong.
      std::string why = absl::StrCat("authentication failed: peer at ",
                                     in.from, " does not know the token");
      MDN_LOG(Warn) << "refused connection claiming to be rank "
                    << hello.from_rank << ": " << why;
      refused_[hello.from_rank] = why;
      return true;
    }
  }
  if (k_[hello.from_rank] == 0) {
    k_[hello.from_rank] = hello.num_connections;
    conns_[hello.from_rank].resize(hello.num_connections);
  }
  if (hello.num_connections != k_[hello.from_rank]) return true;  // raced
  Fd& slot = conns_[hello.from_rank][hello.conn_index];
  if (slot.valid()) {
    // The dialer gave up on an earlier attempt (handshake timeout) and dialed
    // again; the newest connection is the one it uses.
    MDN_LOG(Info) << "rank " << hello.from_rank << " replaced connection "
                  << hello.conn_index;
  }
  slot = std::move(in.fd);
  return true;
}

absl::Status MeshBuilder::TimeoutError() const {
  std::vector<std::string> missing;
  for (int p = 0; p < spec_.world_size; ++p) {
    if (p == spec_.rank) continue;
    uint32_t up = 0;
    for (const Fd& fd : conns_[p]) up += fd.valid() ? 1 : 0;
    const uint32_t k = std::max<uint32_t>(k_[p], 1);
    if (up == k && k_[p] != 0) continue;
    std::string detail;
    if (p < spec_.rank) {
      const std::string& why = refused_[p];
      if (up == 0) {
        detail = why.empty()
                     ? "it never connected"
                     : absl::StrCat("its connections were refused (", why, ")");
      } else {
        detail = absl::StrCat("only ", up, " of ", k, " connections arrived");
        if (!why.empty())
          absl::StrAppend(&detail, "; one was refused (", why, ")");
      }
    } else {
      for (const Outgoing& o : dials_) {
        if (o.peer == p && o.phase != Outgoing::Phase::kDone) {
          detail = o.last_error;
          if (o.phase != Outgoing::Phase::kIdle) detail = "no handshake reply";
          break;
        }
      }
      if (up > 0)
        absl::StrAppend(&detail, " (", up, " of ", k, " connections up)");
    }
    missing.push_back(absl::StrCat(Name(p), ": ", detail));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("rank ", spec_.rank, " timed out waiting for ",
                   absl::StrJoin(missing, "; ")));
}

// How often abort_check runs while nothing happens.
constexpr int kAbortCheckMs = 50;

absl::Status MeshBuilder::Run() {
  MDN_RETURN_IF_ERROR(Resolve());
  std::vector<struct pollfd> pfds;
  std::vector<int> who;  // >= 0: index in dials_; < 0: -1 - index in incoming_
  while (!Complete()) {
    if (spec_.abort_check) MDN_RETURN_IF_ERROR(spec_.abort_check());
    Deadline now = Clock::now();
    if (now >= deadline_) return TimeoutError();
    Deadline wake = deadline_;
    pfds.clear();
    who.clear();
    for (size_t i = 0; i < dials_.size(); ++i) {
      Outgoing& o = dials_[i];
      if (o.phase == Outgoing::Phase::kIdle && o.retry_at <= now) StartDial(o);
      if ((o.phase == Outgoing::Phase::kConnecting ||
           o.phase == Outgoing::Phase::kAwaitReply) &&
          o.give_up_at <= now) {
        Retry(o, "no handshake reply within the handshake timeout");
      }
      switch (o.phase) {
        case Outgoing::Phase::kIdle:
          wake = std::min(wake, o.retry_at);
          break;
        case Outgoing::Phase::kConnecting:
        case Outgoing::Phase::kAwaitReply:
          wake = std::min(wake, o.give_up_at);
          pfds.push_back(
              {o.fd.get(),
               static_cast<short>(
                   o.phase == Outgoing::Phase::kConnecting ? POLLOUT : POLLIN),
               0});
          who.push_back(static_cast<int>(i));
          break;
        case Outgoing::Phase::kDone:
          break;
      }
    }
    incoming_.erase(
        std::remove_if(incoming_.begin(), incoming_.end(),
                       [&](const Incoming& in) {
                         if (in.give_up_at > now) return false;
                         MDN_LOG(Info)
                             << "dropping connection from " << in.from
                             << ": handshake not completed within the "
                                "handshake timeout";
                         return true;
                       }),
        incoming_.end());
    for (size_t i = 0; i < incoming_.size(); ++i) {
      wake = std::min(wake, incoming_[i].give_up_at);
      pfds.push_back({incoming_[i].fd.get(), POLLIN, 0});
      who.push_back(-1 - static_cast<int>(i));
    }
    bool accept = NeedAccept();
    if (accept) pfds.push_back({listen_fd_, POLLIN, 0});
    // +1: poll() truncates to milliseconds and would wake just too early.
    int timeout = std::min(MillisLeft(wake) + 1, MillisLeft(deadline_) + 1);
    if (spec_.abort_check) timeout = std::min(timeout, kAbortCheckMs);
    int rc = poll(pfds.data(), pfds.size(), timeout);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll", errno);
    }
    if (rc == 0) continue;
    std::vector<size_t> finished;
    for (size_t i = 0; i < who.size(); ++i) {
      if (pfds[i].revents == 0) continue;
      if (who[i] >= 0) {
        MDN_RETURN_IF_ERROR(OnDialReady(dials_[who[i]], pfds[i].revents));
      } else {
        size_t idx = static_cast<size_t>(-1 - who[i]);
        if (OnIncomingReady(incoming_[idx])) finished.push_back(idx);
      }
    }
    for (Outgoing& o : new_dials_) dials_.push_back(std::move(o));
    new_dials_.clear();
    for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
      incoming_.erase(incoming_.begin() + static_cast<ptrdiff_t>(*it));
    }
    if (accept && pfds.back().revents != 0) AcceptAll();
  }
  return absl::OkStatus();
}

absl::Status ValidateSpec(const MeshSpec& spec) {
  if (spec.world_size < 1 || spec.rank < 0 || spec.rank >= spec.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", spec.rank, " is not in a group of ", spec.world_size));
  }
  if (spec.peer_addresses.size() != static_cast<size_t>(spec.world_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("mesh of ", spec.world_size, " ranks has ",
                     spec.peer_addresses.size(), " peer addresses"));
  }
  int k = spec.options.connections_per_peer;
  if (k < 0 || k > static_cast<int>(kMaxConnectionsPerPeer)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connections per peer must be in [1, ", kMaxConnectionsPerPeer,
        "] (or 0: automatic), not ", k));
  }
  if (spec.options.frame_bytes == 0) {
    return absl::InvalidArgumentError("frame_bytes must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<Link>>> ConnectTcpMesh(
    const MeshSpec& spec, TcpListener& listener, EventLoop* loop,
    LinkEvents* events, Deadline deadline) {
  MDN_RETURN_IF_ERROR(ValidateSpec(spec));
  MeshBuilder builder(spec, listener.fd(), deadline);
  MDN_RETURN_IF_ERROR(builder.Run());
  std::vector<std::unique_ptr<Link>> links(spec.world_size);
  for (int p = 0; p < spec.world_size; ++p) {
    if (p == spec.rank) continue;
    std::vector<Fd> conns = builder.TakeConnections(p);
    const SocketLimits limits = ReadSocketLimits();
    for (Fd& fd : conns) {
      MDN_RETURN_IF_ERROR(TuneDataSocket(fd.get(), 0));
      SizeSocketBuffers(fd.get(), spec.options.socket_buffer_bytes, limits);
      MDN_RETURN_IF_ERROR(SetCongestionControl(fd.get(), spec.options.congestion_control,
                                               spec.options.congestion_control_required));
      LimitUnsentBacklog(fd.get(), spec.options.frame_bytes);
    }
    MDN_ASSIGN_OR_RETURN(
        links[p],
        TcpLink::Create(p, spec.peer_addresses[p].ToString(), std::move(conns),
                        spec.options, loop, events));
  }
  return links;
}

}  // namespace meridian::transport
