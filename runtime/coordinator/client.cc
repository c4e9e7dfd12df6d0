#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/protocol.h"

namespace meridian::coordinator {

using transport::Deadline;
using transport::HostPort;

namespace {

// Gives a failed read from the coordinator the meaning the caller needs:
// which coordinator, and what we were waiting for.
absl::Status ExplainReadError(const absl::Status& st, const HostPort& coord,
                              const std::string& waiting_for) {
  std::string where = absl::StrCat("coordinator at ", coord.ToString());
  switch (st.code()) {
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(
          absl::StrCat(where, " closed the connection while we waited for ",
                       waiting_for, " (", st.message(), ")"));
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(
          absl::StrCat("timed out waiting for ", waiting_for, " from ", where));
    case absl::StatusCode::kInvalidArgument:
      // Our own decoder's verdict on the coordinator's bytes: not a caller
      // error, so it must not surface as InvalidArgument.
      return absl::DataLossError(absl::StrCat("malformed message from ", where,
                                              " (is it a Meridian coordinator "
                                              "of a compatible version?): ",
                                              st.message()));
    default:
      return absl::Status(st.code(), absl::StrCat(where, ": ", st.message()));
  }
}

absl::Status ExplainWriteError(const absl::Status& st, const HostPort& coord) {
  if (absl::IsUnavailable(st)) {
    return absl::UnavailableError(
        absl::StrCat("coordinator at ", coord.ToString(),
                     " closed the connection (", st.message(), ")"));
  }
  return absl::Status(
      st.code(), absl::StrCat("sending to coordinator at ", coord.ToString(),
                              ": ", st.message()));
}

absl::Status Refusal(const ErrorMsg& err, const HostPort& coord) {
  absl::StatusCode code =
      err.code == absl::StatusCode::kOk ? absl::StatusCode::kUnknown : err.code;
  return absl::Status(code, absl::StrCat("coordinator at ", coord.ToString(),
                                         " refused: ", err.message));
}

absl::Status Unexpected(const ControlMessage& msg, const char* expected,
                        const HostPort& coord) {
  return absl::DataLossError(absl::StrCat(
      "coordinator at ", coord.ToString(), " sent ", MsgTypeName(TypeOf(msg)),
      " where ", expected, " was expected"));
}

// Reads the coordinator's answer; a refusal becomes its Status.
absl::StatusOr<ControlMessage> ReadReply(int fd, const HostPort& coord,
                                         const std::string& waiting_for,
                                         Deadline deadline) {
  absl::StatusOr<ControlMessage> reply =
      ReadMessage(fd, kCoordinatorToPeerLimits, deadline);
  if (!reply.ok()) return ExplainReadError(reply.status(), coord, waiting_for);
  if (const auto* err = std::get_if<ErrorMsg>(&*reply)) {
    return Refusal(*err, coord);
  }
  return reply;
}

// One request/response step: send, then wait for the answer.
absl::StatusOr<ControlMessage> Exchange(int fd, const ControlMessage& request,
                                        const HostPort& coord,
                                        const std::string& waiting_for,
                                        Deadline deadline) {
  absl::Status sent = WriteMessage(fd, request, deadline);
  if (!sent.ok()) return ExplainWriteError(sent, coord);
  return ReadReply(fd, coord, waiting_for, deadline);
}

}  // namespace

CoordinatorClient::CoordinatorClient(transport::Fd fd, HostPort coordinator,
                                     std::string local_host,
                                     std::string auth_token)
    : fd_(std::move(fd)),
      auth_token_(std::move(auth_token)),
      coordinator_(std::move(coordinator)),
      local_host_(std::move(local_host)) {}

CoordinatorClient::~CoordinatorClient() = default;

absl::StatusOr<std::unique_ptr<CoordinatorClient>> CoordinatorClient::Connect(
    const HostPort& coordinator, const std::string& auth_token,
    Deadline deadline) {
  absl::StatusOr<transport::Fd> fd =
      transport::Connect(coordinator, deadline, /*retry_refused=*/true);
  if (!fd.ok()) {
    return absl::Status(
        fd.status().code(),
        absl::StrCat("cannot reach the coordinator at ", coordinator.ToString(),
                     ": ", fd.status().message()));
  }
  int one = 1;
  setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  MDN_ASSIGN_OR_RETURN(HostPort local, transport::LocalAddress(fd->get()));
  return std::unique_ptr<CoordinatorClient>(
      new CoordinatorClient(*std::move(fd), coordinator, local.host,
                            auth_token));
}

std::string CoordinatorClient::local_host() const { return local_host_; }

absl::StatusOr<CoordinatorClient::Greeting> CoordinatorClient::Greet(
    Deadline deadline) {
  HelloMsg hello;
  hello.authenticated = !auth_token_.empty();
  hello.nonce = transport::NewNonce();
  absl::StatusOr<ControlMessage> welcome =
      Exchange(fd_.get(), hello, coordinator_, "its WELCOME", deadline);
  if (!welcome.ok()) return welcome.status();
  const auto* w = std::get_if<WelcomeMsg>(&*welcome);
  if (w == nullptr) return Unexpected(*welcome, "WELCOME", coordinator_);
  if (w->version < kMinProtocolVersion || w->version > kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "coordinator at ", coordinator_.ToString(), " chose protocol version ",
        w->version, ", which this peer does not speak"));
  }
  protocol_version_ = w->version;
  heartbeat_interval_ms_ = static_cast<int>(
      std::min<uint32_t>(w->heartbeat_interval_ms, 3600000));
  if (!auth_token_.empty()) {
    transport::Mac expected = transport::HandshakeMac(
        auth_token_, kCoordinatorAuthLabel, kCoordinatorRole, w->nonce,
        hello.nonce, {});
    if (!transport::MacEquals(expected, w->mac)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "authentication failed: coordinator at ", coordinator_.ToString(),
          " does not know this peer's token (MERIDIAN_AUTH_TOKEN / "
          "MERIDIAN_AUTH_TOKEN_FILE must match the coordinator's)"));
    }
  }
  return Greeting{hello.nonce, w->nonce};
}

namespace {

// Waits for the coordinator's answer, sending HEARTBEATs meanwhile: forming
// a group or being admitted to one can take longer than the coordinator's
// heartbeat timeout.
absl::StatusOr<ControlMessage> AwaitReply(int fd, int heartbeat_interval_ms,
                                          const HostPort& coord,
                                          const std::string& waiting_for,
                                          Deadline deadline) {
  while (true) {
    int wait_ms = transport::MillisLeft(deadline);
    if (heartbeat_interval_ms > 0) wait_ms = std::min(wait_ms, heartbeat_interval_ms);
    struct pollfd pfd = {fd, POLLIN, 0};
    int rc = poll(&pfd, 1, std::max(wait_ms, 0));
    if (rc < 0 && errno == EINTR) continue;
    if (rc > 0) break;
    if (transport::Clock::now() >= deadline) {
      return ExplainReadError(absl::DeadlineExceededError("timeout"), coord,
                              waiting_for);
    }
    absl::Status sent = WriteMessage(fd, HeartbeatMsg{}, deadline);
    if (!sent.ok()) return ExplainWriteError(sent, coord);
  }
  return ReadReply(fd, coord, waiting_for, deadline);
}

}  // namespace

absl::StatusOr<Roster> CoordinatorClient::Join(int world_size,
                                               int requested_rank,
                                               const HostPort& data_address,
                                               Deadline deadline) {
  if (world_size < 1 || world_size > kMaxWorldSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "world size ", world_size, " is outside [1, ", kMaxWorldSize, "]"));
  }
  if (requested_rank < -1 || requested_rank >= world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", requested_rank, " is outside [0, ", world_size,
                     ") (or -1 to let the coordinator choose)"));
  }
  if (data_address.host.size() > kMaxHostLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("data address host is ", data_address.host.size(),
                     " bytes long; at most ", kMaxHostLength, " are allowed"));
  }
  if (joined_) {
    return absl::FailedPreconditionError(
        "this client has already joined a group");
  }
  if (!fd_.valid()) {
    return absl::FailedPreconditionError(
        "the connection to the coordinator was closed after a failed join; "
        "connect again");
  }

  // Any failure leaves the coordinator unsure of this peer; closing tells
  // it the peer gave up, so it stops counting it towards the group.
  auto fail = [this](absl::Status st) {
    fd_.reset();
    return st;
  };

  JoinMsg join{world_size, requested_rank, data_address, {}};
  absl::StatusOr<Greeting> greeting = Greet(deadline);
  if (!greeting.ok()) {
    if (absl::IsPermissionDenied(greeting.status())) {
      // The JOIN goes out anyway, so that the coordinator reaches its own
      // verdict and logs the refused peer; its MAC is zero and useless to
      // anyone who records it.
      (void)WriteMessage(fd_.get(), join, deadline);
    }
    return fail(greeting.status());
  }
  if (!auth_token_.empty()) {
    join.mac = transport::HandshakeMac(auth_token_, kCoordinatorAuthLabel,
                                       kPeerRole, greeting->own,
                                       greeting->theirs, JoinAuthContext(join));
  }
  absl::Status sent = WriteMessage(fd_.get(), join, deadline);
  if (!sent.ok()) return fail(ExplainWriteError(sent, coordinator_));
  absl::StatusOr<ControlMessage> reply = AwaitReply(
      fd_.get(), heartbeat_interval_ms_, coordinator_,
      absl::StrCat("the group of ", world_size,
                   " peers to form (or, if it has formed, for its members to "
                   "admit this peer at their next mdnCommUpdate)"),
      deadline);
  if (!reply.ok()) return fail(reply.status());
  auto* roster_msg = std::get_if<RosterMsg>(&*reply);
  if (roster_msg == nullptr) {
    return fail(Unexpected(*reply, "ROSTER", coordinator_));
  }
  Roster& roster = roster_msg->roster;
  // A joiner admitted to a running group gets that group's size and a free
  // rank, whatever it asked for; only the first formation honours them.
  if (roster.epoch == 1 &&
      (roster.world_size != world_size ||
       (requested_rank >= 0 && roster.rank != requested_rank))) {
    return fail(absl::DataLossError(absl::StrCat(
        "coordinator at ", coordinator_.ToString(), " sent a roster for rank ",
        roster.rank, " of ", roster.world_size, " peers; asked for rank ",
        requested_rank, " of ", world_size)));
  }
  if (roster.peers.size() != static_cast<size_t>(roster.world_size)) {
    return fail(absl::DataLossError(absl::StrCat(
        "coordinator at ", coordinator_.ToString(), " sent a roster of ",
        roster.peers.size(), " addresses for ", roster.world_size, " peers")));
  }
  joined_ = true;
  MDN_LOG(Info) << "joined group " << absl::StrCat(absl::Hex(roster.group_id))
                << " epoch " << roster.epoch << " as rank " << roster.rank
                << " of " << roster.world_size;
  return std::move(roster);
}

absl::Status CoordinatorClient::Rejoin(const Roster& roster,
                                       const HostPort& data_address,
                                       Deadline deadline) {
  auto fail = [this](absl::Status st) {
    fd_.reset();
    return st;
  };
  ReconnectMsg msg;
  msg.group_id = roster.group_id;
  msg.epoch = roster.epoch;
  msg.rank = roster.rank;
  msg.world_size = roster.world_size;
  msg.data_address = data_address;
  absl::StatusOr<Greeting> greeting = Greet(deadline);
  if (!greeting.ok()) return fail(greeting.status());
  if (!auth_token_.empty()) {
    msg.mac = transport::HandshakeMac(auth_token_, kCoordinatorAuthLabel,
                                      kPeerRole, greeting->own,
                                      greeting->theirs,
                                      ReconnectAuthContext(msg));
  }
  absl::StatusOr<ControlMessage> reply =
      Exchange(fd_.get(), msg, coordinator_, "its answer to RECONNECT", deadline);
  if (!reply.ok()) return fail(reply.status());
  if (!std::holds_alternative<NoticeMsg>(*reply)) {
    return fail(Unexpected(*reply, "NOTICE", coordinator_));
  }
  joined_ = true;
  return absl::OkStatus();
}

}  // namespace meridian::coordinator
