#include "runtime/coordinator/membership_client.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace meridian::coordinator {

using transport::Clock;
using transport::Deadline;

namespace {
// How long one write to the coordinator may take before the connection is
// considered gone (its socket buffer holds many heartbeats, so a healthy
// coordinator never makes us wait).
constexpr int kWriteTimeoutMs = 2000;
// Reconnection attempts after the coordinator went away: one attempt may
// take this long, and attempts back off up to the maximum.
constexpr int kReconnectAttemptMs = 1000;
constexpr int kMinBackoffMs = 50;
constexpr int kMaxBackoffMs = 1000;
// Without heartbeats the loop still wakes now and then (stop, reconnect).
constexpr int kIdleWakeMs = 1000;
}  // namespace

absl::StatusOr<std::unique_ptr<MembershipClient>> MembershipClient::Start(
    std::unique_ptr<CoordinatorClient> joined, const Roster& roster,
    const transport::HostPort& coordinator, const std::string& auth_token,
    const transport::HostPort& data_address, Callbacks callbacks) {
  transport::Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return transport::ErrnoStatus("eventfd", errno);
  const int heartbeat_ms = joined->heartbeat_interval_ms();
  const int version = joined->protocol_version();
  transport::Fd fd = joined->ReleaseFd();
  absl::Status nb = transport::SetNonBlocking(fd.get(), true);
  if (!nb.ok()) return nb;
  std::unique_ptr<MembershipClient> client(new MembershipClient(
      std::move(fd), std::move(wake), heartbeat_ms, version, roster, coordinator,
      auth_token, data_address, std::move(callbacks)));
  client->thread_ = std::thread([c = client.get()] { c->Run(); });
  return client;
}

MembershipClient::MembershipClient(transport::Fd fd, transport::Fd wake,
                                   int heartbeat_ms, int protocol_version,
                                   const Roster& roster,
                                   const transport::HostPort& coordinator,
                                   const std::string& auth_token,
                                   const transport::HostPort& data_address,
                                   Callbacks callbacks)
    : coordinator_(coordinator),
      auth_token_(auth_token),
      data_address_(data_address),
      callbacks_(std::move(callbacks)),
      heartbeat_ms_(heartbeat_ms),
      protocol_version_(protocol_version),
      fd_(std::move(fd)),
      wake_(std::move(wake)),
      in_(std::make_unique<FrameAssembler>(kCoordinatorToPeerLimits)),
      roster_(roster) {
  next_heartbeat_ = Clock::now();
}

MembershipClient::~MembershipClient() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  ssize_t ignored = write(wake_.get(), &one, sizeof(one));
  (void)ignored;
  if (thread_.joinable()) thread_.join();
}

absl::Status MembershipClient::evicted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evicted_;
}

void MembershipClient::RequestUpdate(bool force) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    update_wanted_ = true;
    update_force_ = force;
    update_sent_ = false;
    reply_.reset();
  }
  uint64_t one = 1;
  ssize_t ignored = write(wake_.get(), &one, sizeof(one));
  (void)ignored;
}

std::optional<absl::StatusOr<Roster>> MembershipClient::TakeUpdateReply() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!evicted_.ok()) {
    update_wanted_ = false;
    return absl::StatusOr<Roster>(evicted_);
  }
  if (!reply_) return std::nullopt;
  update_wanted_ = false;
  Roster out = std::move(*reply_);
  reply_.reset();
  return absl::StatusOr<Roster>(std::move(out));
}

void MembershipClient::CancelUpdate() {
  std::lock_guard<std::mutex> lock(mu_);
  update_wanted_ = false;
  reply_.reset();
}

void MembershipClient::ReportLinks(LinkReportMsg report) {
  if (report.links.pairs.size() > kMaxLinkPairs ||
      EncodePayload(report).size() > kMemberToCoordinatorLimits.max_control_payload) {
    // The coordinator would take it for a malformed message and drop this
    // peer; such a group re-probes at every epoch instead.
    MDN_LOG(Debug) << "not reporting " << report.links.pairs.size()
                   << " measured pairs of " << report.members.size()
                   << " members: more than a roster carries (" << kMaxLinkPairs << ")";
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    report_ = std::move(report);
  }
  uint64_t one = 1;
  ssize_t ignored = write(wake_.get(), &one, sizeof(one));
  (void)ignored;
}

void MembershipClient::SetEvicted(const absl::Status& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!evicted_.ok()) return;
    evicted_ = why;
  }
  MDN_LOG(Warn) << why.message();
  if (callbacks_.on_evicted) callbacks_.on_evicted(why);
}

bool MembershipClient::Write(const ControlMessage& msg) {
  absl::Status st = WriteMessage(
      fd_.get(), msg, Clock::now() + std::chrono::milliseconds(kWriteTimeoutMs));
  if (!st.ok()) {
    Disconnected(absl::StrCat("send failed: ", st.message()));
    return false;
  }
  return true;
}

void MembershipClient::Disconnected(const std::string& why) {
  if (!fd_.valid()) return;
  MDN_LOG(Warn) << "lost the connection to the coordinator at "
                << coordinator_.ToString() << " (" << why << "); reconnecting";
  fd_.reset();
  in_ = std::make_unique<FrameAssembler>(kCoordinatorToPeerLimits);
  reconnect_backoff_ms_ = kMinBackoffMs;
  next_reconnect_ = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  update_sent_ = false;  // resent once reconnected
}

void MembershipClient::TryReconnect() {
  Roster roster;
  {
    std::lock_guard<std::mutex> lock(mu_);
    roster = roster_;
  }
  Deadline deadline = Clock::now() + std::chrono::milliseconds(kReconnectAttemptMs);
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client =
      CoordinatorClient::Connect(coordinator_, auth_token_, deadline);
  absl::Status st = client.status();
  if (client.ok()) st = (*client)->Rejoin(roster, data_address_, deadline);
  if (st.ok()) {
    heartbeat_ms_ = (*client)->heartbeat_interval_ms();
    protocol_version_.store((*client)->protocol_version());
    fd_ = (*client)->ReleaseFd();
    (void)transport::SetNonBlocking(fd_.get(), true);
    next_heartbeat_ = Clock::now();
    MDN_LOG(Info) << "reconnected to the coordinator at " << coordinator_.ToString()
                  << " as rank " << roster.rank << " of epoch " << roster.epoch;
    return;
  }
  if (absl::IsFailedPrecondition(st) || absl::IsPermissionDenied(st)) {
    SetEvicted(absl::AbortedError(absl::StrCat(
        "this peer (rank ", roster.rank, " of epoch ", roster.epoch,
        ") was evicted from the group: ", st.message())));
    return;
  }
  MDN_LOG(Debug) << "reconnect to " << coordinator_.ToString() << " failed: " << st;
  next_reconnect_ = Clock::now() + std::chrono::milliseconds(reconnect_backoff_ms_);
  reconnect_backoff_ms_ = std::min(kMaxBackoffMs, reconnect_backoff_ms_ * 2);
}

void MembershipClient::Handle(const ControlMessage& msg) {
  if (const auto* notice = std::get_if<NoticeMsg>(&msg)) {
    pending_.store(notice->pending_joiners);
    uint64_t epoch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      epoch = roster_.epoch;
    }
    if (notice->lost_rank >= 0 && notice->epoch == epoch &&
        callbacks_.on_member_lost) {
      callbacks_.on_member_lost(notice->epoch, notice->lost_rank, notice->evicted,
                                notice->reason);
    }
    return;
  }
  if (const auto* roster = std::get_if<RosterMsg>(&msg)) {
    // Every roster admits all who were pending (or there were none); a
    // joiner arriving later is announced by a NOTICE after this message.
    pending_.store(0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      roster_ = roster->roster;
      if (update_wanted_) reply_ = roster->roster;
    }
    if (callbacks_.on_update_reply) callbacks_.on_update_reply();
    return;
  }
  if (const auto* err = std::get_if<ErrorMsg>(&msg)) {
    SetEvicted(absl::AbortedError(absl::StrCat(
        "the coordinator at ", coordinator_.ToString(),
        " no longer counts this peer as a member: ", err->message)));
    fd_.reset();
    return;
  }
  Disconnected(absl::StrCat("unexpected ", MsgTypeName(TypeOf(msg)),
                            " from the coordinator"));
}

bool MembershipClient::ReadAvailable() {
  uint8_t buf[4096];
  for (int i = 0; i < 16 && fd_.valid(); ++i) {
    size_t want = std::min(sizeof(buf), in_->wanted());
    ssize_t n = recv(fd_.get(), buf, want, MSG_DONTWAIT);
    if (n == 0) {
      Disconnected("closed by the coordinator");
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      Disconnected(strerror(errno));
      return false;
    }
    in_->Append(buf, static_cast<size_t>(n));
    while (fd_.valid()) {
      absl::StatusOr<std::optional<ControlMessage>> msg = in_->Next();
      if (!msg.ok()) {
        Disconnected(absl::StrCat("malformed message: ", msg.status().message()));
        return false;
      }
      if (!msg->has_value()) break;
      Handle(**msg);
    }
  }
  return fd_.valid();
}

void MembershipClient::Run() {
  while (true) {
    bool send_update = false;
    bool evicted = false;
    UpdateMsg update;
    std::optional<LinkReportMsg> report;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      evicted = !evicted_.ok();
      if (evicted) {
        fd_.reset();
        report_.reset();
      } else {
        if (report_ && fd_.valid()) {
          report = std::move(report_);
          report_.reset();
        }
        if (update_wanted_ && !update_sent_ && fd_.valid() && !reply_) {
          send_update = true;
          update_sent_ = true;
          update.epoch = roster_.epoch;
          update.force = update_force_;
        }
      }
    }
    // The report first: the UPDATE may complete the step boundary, and the
    // coordinator should form the next epoch knowing these links.
    if (report) {
      if (protocol_version_.load() >= kLinkReportVersion) {
        if (!Write(*report)) continue;
      } else {
        MDN_LOG(Debug) << "coordinator at " << coordinator_.ToString()
                       << " speaks protocol version " << protocol_version_.load()
                       << ", which has no link reports; not reporting";
      }
    }
    if (send_update) Write(update);
    const Deadline now = Clock::now();
    if (!fd_.valid() && !evicted && now >= next_reconnect_) {
      TryReconnect();
      continue;
    }
    if (fd_.valid() && heartbeat_ms_ > 0 && now >= next_heartbeat_) {
      uint64_t epoch;
      {
        std::lock_guard<std::mutex> lock(mu_);
        epoch = roster_.epoch;
      }
      next_heartbeat_ = now + std::chrono::milliseconds(heartbeat_ms_);
      if (!Write(HeartbeatMsg{epoch})) continue;
    }
    Deadline wake_at = now + std::chrono::milliseconds(kIdleWakeMs);
    if (fd_.valid() && heartbeat_ms_ > 0) wake_at = std::min(wake_at, next_heartbeat_);
    if (!fd_.valid() && !evicted) wake_at = std::min(wake_at, next_reconnect_);
    struct pollfd pfds[2] = {{wake_.get(), POLLIN, 0}, {fd_.get(), POLLIN, 0}};
    int n = fd_.valid() ? 2 : 1;
    int rc = poll(pfds, n, transport::MillisLeft(wake_at) + 1);
    if (rc < 0 && errno != EINTR) {
      MDN_LOG(Error) << "membership poll failed: " << strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (rc <= 0) continue;
    if (pfds[0].revents != 0) {
      uint64_t drained;
      ssize_t ignored = read(wake_.get(), &drained, sizeof(drained));
      (void)ignored;
    }
    if (n == 2 && pfds[1].revents != 0) ReadAvailable();
  }
  fd_.reset();
}

}  // namespace meridian::coordinator
