#include "runtime/coordinator/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/log.h"
#include "base/status_macros.h"

MDN_PARAM(CoordinatorHandshakeTimeoutMs, "COORDINATOR_HANDSHAKE_TIMEOUT_MS",
          10000)
MDN_PARAM(CoordinatorMaxPending, "COORDINATOR_MAX_PENDING", 1024)
// Read by the coordinator; peers learn the heartbeat interval from it.
MDN_PARAM(HeartbeatTimeoutMs, "HEARTBEAT_TIMEOUT_MS", 10000)

namespace meridian::coordinator {

using transport::Clock;
using transport::Deadline;

namespace {
// Bytes read per recv and reads per readiness event; the cap keeps one
// chatty connection from starving the rest in a single pass.
constexpr size_t kReadChunk = 4096;
constexpr int kReadsPerEvent = 16;
// After accept(2) fails for lack of descriptors, the listening socket stays
// readable; pausing keeps the loop from spinning on it.
constexpr int kAcceptPauseMs = 100;

bool IsWildcardHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::";
}
}  // namespace

struct Server::Conn {
  enum class State { kAwaitHello, kAwaitJoin, kJoined, kMember, kClosing };

  Conn(PeerId id_in, transport::Fd fd_in, transport::HostPort peer_in)
      : id(id_in), fd(std::move(fd_in)), peer(std::move(peer_in)) {}

  PeerId id;
  transport::Fd fd;
  transport::HostPort peer;
  State state = State::kAwaitHello;
  uint16_t version = 0;  // chosen in the WELCOME
  std::optional<Deadline> deadline;
  Deadline last_heard = Clock::now();
  transport::Nonce peer_nonce{};  // from its HELLO
  transport::Nonce own_nonce{};   // ours, sent in the WELCOME
  FrameAssembler in{kPeerToCoordinatorLimits};
  std::vector<uint8_t> out;
  bool write_shut = false;
  bool dead = false;

  bool pending() const {
    return state == State::kAwaitHello || state == State::kAwaitJoin ||
           state == State::kClosing;
  }
  std::string name() const {
    return absl::StrCat("peer ", id, " (", peer.ToString(), ")");
  }
};

ServerOptions ServerOptions::FromEnv() {
  ServerOptions o;
  o.handshake_timeout_ms = static_cast<int>(
      std::clamp<int64_t>(param::CoordinatorHandshakeTimeoutMs(), 1, 3600000));
  o.max_pending = static_cast<int>(
      std::clamp<int64_t>(param::CoordinatorMaxPending(), 1, 1 << 20));
  o.heartbeat_timeout_ms = static_cast<int>(
      std::clamp<int64_t>(param::HeartbeatTimeoutMs(), 0, 24 * 3600000));
  o.recovery_grace_ms = o.heartbeat_timeout_ms > 0 ? o.heartbeat_timeout_ms : 10000;
  return o;
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const std::string& listen_address, const ServerOptions& options) {
  MDN_ASSIGN_OR_RETURN(transport::HostPort requested,
                       transport::ParseHostPort(listen_address));
  MDN_ASSIGN_OR_RETURN(transport::Fd listen, transport::Listen(requested));
  MDN_RETURN_IF_ERROR(transport::SetNonBlocking(listen.get(), true));
  MDN_ASSIGN_OR_RETURN(transport::HostPort bound,
                       transport::LocalAddress(listen.get()));
  transport::Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return transport::ErrnoStatus("eventfd", errno);
  std::unique_ptr<Server> server(
      new Server(std::move(listen), std::move(wake), bound, options));
  server->thread_ = std::thread([s = server.get()] { s->Run(); });
  MDN_LOG(Info) << "coordinator listening on " << bound.ToString();
  return server;
}

Server::Server(transport::Fd listen, transport::Fd wake,
               transport::HostPort address, const ServerOptions& options)
    : listen_(std::move(listen)),
      wake_(std::move(wake)),
      address_(std::move(address)),
      options_(options),
      group_(options.recovery_grace_ms) {}

Server::~Server() {
  stop_.store(true);
  uint64_t one = 1;
  ssize_t ignored = write(wake_.get(), &one, sizeof(one));
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  // conns_ and the sockets close with the members.
}

void Server::Run() {
  std::vector<struct pollfd> pfds;
  std::vector<PeerId> ids;
  while (!stop_.load()) {
    pfds.clear();
    ids.clear();
    pfds.push_back({wake_.get(), POLLIN, 0});
    bool accepting = Clock::now() >= accept_paused_until_;
    pfds.push_back(
        {listen_.get(), static_cast<short>(accepting ? POLLIN : 0), 0});
    for (const auto& [id, c] : conns_) {
      short events = POLLIN;
      if (!c->out.empty()) events |= POLLOUT;
      pfds.push_back({c->fd.get(), events, 0});
      ids.push_back(id);
    }
    int rc = poll(pfds.data(), pfds.size(), PollTimeoutMs());
    if (rc < 0 && errno != EINTR) {
      MDN_LOG(Error) << "coordinator poll failed: " << strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (rc > 0) {
      if (pfds[0].revents != 0) {
        uint64_t drained;
        ssize_t ignored = read(wake_.get(), &drained, sizeof(drained));
        (void)ignored;
      }
      if (stop_.load()) break;
      if (pfds[1].revents != 0) AcceptAll();
      for (size_t i = 0; i < ids.size(); ++i) {
        short revents = pfds[i + 2].revents;
        if (revents == 0) continue;
        auto it = conns_.find(ids[i]);
        if (it == conns_.end() || it->second->dead) continue;
        Conn& c = *it->second;
        if (revents & POLLOUT) OnWritable(c);
        if (!c.dead && (revents & (POLLIN | POLLHUP | POLLERR))) OnReadable(c);
      }
    }
    ExpireDeadlines();
    EvictSilentPeers();
    Apply(group_.Tick(Clock::now()));
    for (auto it = conns_.begin(); it != conns_.end();) {
      it = it->second->dead ? conns_.erase(it) : std::next(it);
    }
  }
}

int Server::PollTimeoutMs() const {
  std::optional<Deadline> next;
  if (Clock::now() < accept_paused_until_) next = accept_paused_until_;
  auto consider = [&next](Deadline d) {
    if (!next || d < *next) next = d;
  };
  for (const auto& [id, c] : conns_) {
    if (c->deadline) consider(*c->deadline);
    if (options_.heartbeat_timeout_ms > 0 &&
        (c->state == Conn::State::kJoined || c->state == Conn::State::kMember)) {
      consider(c->last_heard +
               std::chrono::milliseconds(options_.heartbeat_timeout_ms));
    }
  }
  if (auto d = group_.next_deadline()) consider(*d);
  if (!next) return -1;
  // +1 so that the deadline has passed when poll returns.
  return transport::MillisLeft(*next) + 1;
}

int Server::PendingCount() const {
  int n = 0;
  for (const auto& [id, c] : conns_) n += c->pending() ? 1 : 0;
  return n;
}

void Server::AcceptAll() {
  while (true) {
    int fd =
        accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      MDN_LOG(Warn) << "coordinator accept failed: " << strerror(errno)
                    << "; pausing accepts for " << kAcceptPauseMs << " ms";
      accept_paused_until_ =
          Clock::now() + std::chrono::milliseconds(kAcceptPauseMs);
      return;
    }
    transport::Fd conn_fd(fd);
    absl::StatusOr<transport::HostPort> peer = transport::PeerAddress(fd);
    if (!peer.ok()) continue;  // already reset by the peer
    if (PendingCount() >= options_.max_pending) {
      MDN_LOG(Warn)
          << "coordinator has " << options_.max_pending
          << " connections in their handshake; closing the new one from "
          << peer->ToString();
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    PeerId id = next_id_++;
    auto c = std::make_unique<Conn>(id, std::move(conn_fd), *std::move(peer));
    c->deadline =
        Clock::now() + std::chrono::milliseconds(options_.handshake_timeout_ms);
    MDN_LOG(Debug) << "accepted " << c->name();
    conns_.emplace(id, std::move(c));
  }
}

void Server::OnReadable(Conn& c) {
  uint8_t buf[kReadChunk];
  for (int i = 0; i < kReadsPerEvent && !c.dead; ++i) {
    // A refused peer's bytes are no longer parsed, only drained until it
    // closes, so that closing never resets the ERROR it has yet to read.
    bool draining = c.state == Conn::State::kClosing;
    size_t want = draining ? sizeof(buf) : std::min(sizeof(buf), c.in.wanted());
    ssize_t n = recv(c.fd.get(), buf, want, 0);
    if (n == 0) {
      Close(c, "connection closed by peer");
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      Close(c, absl::StrCat("receive failed: ", strerror(errno)));
      return;
    }
    if (draining) continue;
    c.last_heard = Clock::now();
    c.in.Append(buf, static_cast<size_t>(n));
    while (!c.dead && c.state != Conn::State::kClosing) {
      absl::StatusOr<std::optional<ControlMessage>> msg = c.in.Next();
      if (!msg.ok()) {
        MDN_LOG(Warn) << "coordinator dropping " << c.name() << ": "
                      << msg.status().message();
        Close(c, "malformed input");
        return;
      }
      if (!msg->has_value()) break;
      Handle(c, std::move(**msg));
    }
  }
}

void Server::OnWritable(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = send(c.fd.get(), c.out.data(), c.out.size(),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(c.out.begin(), c.out.begin() + n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    Close(c, absl::StrCat("send failed: ", strerror(errno)));
    return;
  }
  if (c.state == Conn::State::kClosing && !c.write_shut) {
    shutdown(c.fd.get(), SHUT_WR);
    c.write_shut = true;
  }
}

void Server::Send(Conn& c, const ControlMessage& msg) {
  std::vector<uint8_t> frame = EncodeFrame(msg);
  c.out.insert(c.out.end(), frame.begin(), frame.end());
  OnWritable(c);
}

void Server::Refuse(Conn& c, const absl::Status& why) {
  MDN_LOG(Info) << "coordinator refusing " << c.name() << ": " << why.message();
  c.state = Conn::State::kClosing;
  c.deadline = Clock::now() + std::chrono::milliseconds(options_.linger_ms);
  Send(c, ErrorMsg{why.code(), std::string(why.message())});
}

void Server::Close(Conn& c, const std::string& why, bool evicted) {
  if (c.dead) return;
  MDN_LOG(Debug) << "closing " << c.name() << ": " << why;
  const bool in_group =
      c.state == Conn::State::kJoined || c.state == Conn::State::kMember;
  c.dead = true;
  c.fd.reset();
  c.out.clear();
  if (in_group) Apply(group_.Remove(c.id, why, evicted));
}

void Server::Apply(Actions actions) {
  for (auto& [id, msg] : actions.send) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->dead) continue;
    Conn& c = *it->second;
    if (auto* roster = std::get_if<RosterMsg>(&msg)) {
      c.state = Conn::State::kMember;
      c.in.set_limits(kMemberToCoordinatorLimits);
      // An older peer's decoder takes a roster without the link matrix.
      if (c.version < kLinkReportVersion) roster->roster.links = LinkMatrix();
    }
    Send(c, msg);
  }
  for (auto& [id, why] : actions.refuse) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->dead) continue;
    Refuse(*it->second, why);
  }
}

void Server::Handle(Conn& c, ControlMessage msg) {
  MsgType type = TypeOf(msg);
  if (c.state == Conn::State::kAwaitHello && type == MsgType::kHello) {
    HandleHello(c, std::get<HelloMsg>(msg));
    return;
  }
  if (c.state == Conn::State::kAwaitJoin && type == MsgType::kJoin) {
    HandleJoin(c, std::get<JoinMsg>(std::move(msg)));
    return;
  }
  if (c.state == Conn::State::kAwaitJoin && type == MsgType::kReconnect) {
    HandleReconnect(c, std::get<ReconnectMsg>(msg));
    return;
  }
  const bool in_group =
      c.state == Conn::State::kJoined || c.state == Conn::State::kMember;
  if (in_group && type == MsgType::kHeartbeat) return;  // last_heard is set
  if (c.state == Conn::State::kMember && type == MsgType::kLinkReport) {
    // A report that cannot be used costs the group nothing but the report:
    // the peer stays a member (an ERROR would end its membership).
    absl::Status st = group_.ReportLinks(c.id, std::get<LinkReportMsg>(msg));
    if (!st.ok()) {
      MDN_LOG(Warn) << "coordinator ignoring the link report of " << c.name()
                    << ": " << st.message();
    }
    return;
  }
  if (c.state == Conn::State::kMember && type == MsgType::kUpdate) {
    absl::StatusOr<Actions> actions =
        group_.RequestUpdate(c.id, std::get<UpdateMsg>(msg));
    if (!actions.ok()) {
      Refuse(c, actions.status());
      return;
    }
    Apply(std::move(*actions));
    return;
  }
  // Protocol order is fixed, so anything else is a confused or hostile
  // peer; it is dropped without touching the group (beyond its own leave).
  MDN_LOG(Warn) << "coordinator dropping " << c.name() << ": unexpected "
                << MsgTypeName(type) << " message";
  Close(c, "protocol violation");
}

void Server::HandleHello(Conn& c, const HelloMsg& hello) {
  if (hello.max_version < kMinProtocolVersion ||
      hello.min_version > kProtocolVersion) {
    Refuse(c,
           absl::FailedPreconditionError(absl::StrCat(
               "peer speaks coordinator protocol versions ", hello.min_version,
               "..", hello.max_version, ", this coordinator speaks ",
               kMinProtocolVersion, "..", kProtocolVersion)));
    return;
  }
  const bool have_token = !options_.auth_token.empty();
  if (hello.authenticated != have_token) {
    Refuse(c, absl::PermissionDeniedError(
                  have_token
                      ? "authentication failed: this coordinator requires the "
                        "shared token and the peer has none (set "
                        "MERIDIAN_AUTH_TOKEN or MERIDIAN_AUTH_TOKEN_FILE)"
                      : "authentication failed: this coordinator runs without "
                        "a token (--insecure) but the peer has one; refusing "
                        "rather than dropping authentication"));
    return;
  }
  c.state = Conn::State::kAwaitJoin;
  WelcomeMsg welcome;
  welcome.version = std::min(hello.max_version, kProtocolVersion);
  c.version = welcome.version;
  welcome.heartbeat_interval_ms =
      static_cast<uint32_t>(options_.heartbeat_interval_ms());
  if (have_token) {
    c.peer_nonce = hello.nonce;
    c.own_nonce = transport::NewNonce();
    welcome.nonce = c.own_nonce;
    welcome.mac = transport::HandshakeMac(options_.auth_token,
                                          kCoordinatorAuthLabel,
                                          kCoordinatorRole, c.own_nonce,
                                          c.peer_nonce, {});
  }
  Send(c, welcome);
}

bool Server::Authenticated(Conn& c, const transport::Mac& mac,
                           const std::vector<uint8_t>& context) {
  if (options_.auth_token.empty()) return true;
  // Checked before anything else: a peer that has not proved the token
  // must not change the group in any way.
  transport::Mac expected =
      transport::HandshakeMac(options_.auth_token, kCoordinatorAuthLabel,
                              kPeerRole, c.peer_nonce, c.own_nonce, context);
  if (transport::MacEquals(expected, mac)) return true;
  MDN_LOG(Warn) << "coordinator: authentication failed: peer at "
                << c.peer.ToString() << " does not know the token";
  Refuse(c, absl::PermissionDeniedError(
                absl::StrCat("authentication failed: peer at ",
                             c.peer.ToString(), " does not know the token")));
  return false;
}

void Server::HandleJoin(Conn& c, JoinMsg join) {
  if (!Authenticated(c, join.mac, JoinAuthContext(join))) return;
  if (IsWildcardHost(join.data_address.host)) {
    join.data_address.host = c.peer.host;
  }
  // A run that starts right after the previous one ended can be faster
  // than the EOFs of the previous run's connections: look first, so the
  // newcomer is not taken for a late joiner of a group that is gone.
  CloseDeadPeers();
  absl::StatusOr<Actions> admitted = group_.Admit(c.id, join);
  if (!admitted.ok()) {
    Refuse(c, admitted.status());
    return;
  }
  c.state = Conn::State::kJoined;
  c.deadline.reset();
  Apply(std::move(*admitted));
}

void Server::HandleReconnect(Conn& c, const ReconnectMsg& msg) {
  if (!Authenticated(c, msg.mac, ReconnectAuthContext(msg))) return;
  CloseDeadPeers();
  absl::StatusOr<Actions> accepted = group_.Reconnect(c.id, msg, Clock::now());
  if (!accepted.ok()) {
    Refuse(c, accepted.status());
    return;
  }
  c.state = Conn::State::kMember;
  c.in.set_limits(kMemberToCoordinatorLimits);
  c.deadline.reset();
  Apply(std::move(*accepted));
}

void Server::CloseDeadPeers() {
  for (auto& [id, c] : conns_) {
    if (c->dead || (c->state != Conn::State::kJoined &&
                    c->state != Conn::State::kMember)) {
      continue;
    }
    char byte;
    ssize_t n = recv(c->fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      Close(*c, "connection closed by peer");
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
               errno != EINTR) {
      Close(*c, absl::StrCat("connection failed: ", strerror(errno)));
    }
  }
}

void Server::EvictSilentPeers() {
  if (options_.heartbeat_timeout_ms <= 0) return;
  const Deadline now = Clock::now();
  const auto timeout = std::chrono::milliseconds(options_.heartbeat_timeout_ms);
  for (auto& [id, c] : conns_) {
    if (c->dead || (c->state != Conn::State::kJoined &&
                    c->state != Conn::State::kMember)) {
      continue;
    }
    if (now - c->last_heard < timeout) continue;
    MDN_LOG(Warn) << "coordinator evicting " << c->name() << ": nothing heard for "
                  << options_.heartbeat_timeout_ms << " ms";
    Close(*c, absl::StrCat("evicted: no heartbeat for ", options_.heartbeat_timeout_ms,
                           " ms (hung, stopped or unreachable)"),
          /*evicted=*/true);
  }
}

void Server::ExpireDeadlines() {
  Deadline now = Clock::now();
  for (auto& [id, c] : conns_) {
    if (c->dead || !c->deadline || *c->deadline > now) continue;
    if (c->state == Conn::State::kClosing) {
      Close(*c, "refused peer did not close in time");
    } else {
      MDN_LOG(Warn) << "coordinator dropping " << c->name()
                    << ": no HELLO and JOIN within "
                    << options_.handshake_timeout_ms << " ms";
      Close(*c, "handshake timeout");
    }
  }
}

}  // namespace meridian::coordinator
