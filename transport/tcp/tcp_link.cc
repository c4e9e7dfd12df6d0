// TcpLink: lifetime, failure handling and the send path.  The receive path
// lives in tcp_link_recv.cc.
#include "transport/tcp/tcp_link.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "transport/tcp/path_sizing.h"

namespace meridian::transport {

namespace {
// One handler call writes at most this much before returning to the loop, so
// one busy connection cannot starve the others.
constexpr size_t kWriteBudget = 16u << 20;
// iovecs per sendmsg: up to 32 frames (header + payload each) per syscall.
constexpr int kMaxIov = 64;
}  // namespace

absl::StatusOr<std::unique_ptr<TcpLink>> TcpLink::Create(
    int peer, std::string peer_name, std::vector<Fd> connections,
    const TcpOptions& options, EventLoop* loop, LinkEvents* events) {
  if (connections.empty()) {
    return absl::InvalidArgumentError(
        "a TCP link needs at least one connection");
  }
  if (loop == nullptr || events == nullptr) {
    return absl::InvalidArgumentError(
        "a TCP link needs an event loop and events");
  }
  std::unique_ptr<TcpLink> link(
      new TcpLink(peer, std::move(peer_name), options, loop, events));
  MDN_RETURN_IF_ERROR(link->Start(std::move(connections)));
  return link;
}

TcpLink::TcpLink(int peer, std::string peer_name, const TcpOptions& options,
                 EventLoop* loop, LinkEvents* events)
    : peer_(peer),
      peer_name_(std::move(peer_name)),
      options_(options),
      // A frame larger than the receiver's limit would be rejected as
      // malformed, and an empty frame size would never make progress.
      frame_bytes_(std::max<size_t>(
          1, std::min<size_t>(options.frame_bytes,
                              options.limits.max_data_payload))),
      loop_(loop),
      events_(events) {}

absl::Status TcpLink::Start(std::vector<Fd> connections) {
  kick_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!kick_.valid()) return ErrnoStatus("eventfd", errno);
  MDN_RETURN_IF_ERROR(
      loop_->Add(kick_.get(), EPOLLIN, [this](uint32_t) { OnKick(); }));
  conns_.resize(connections.size());
  fitted_conns_ = static_cast<int>(conns_.size());
  for (size_t i = 0; i < connections.size(); ++i) {
    Conn& c = conns_[i];
    MDN_RETURN_IF_ERROR(SetNonBlocking(connections[i].get(), true));
    int fd = connections[i].get();
    MDN_RETURN_IF_ERROR(loop_->Add(
        fd, EPOLLIN, [this, i](uint32_t events) { OnConnEvents(i, events); }));
    c.fd = std::move(connections[i]);
    c.interest = EPOLLIN;
  }
  return absl::OkStatus();
}

TcpLink::~TcpLink() {
  *alive_ = false;
  for (Conn& c : conns_) {
    if (c.fd.valid()) loop_->Remove(c.fd.get());
  }
  if (kick_.valid()) loop_->Remove(kick_.get());
}

std::string TcpLink::Who() const {
  return absl::StrCat("rank ", peer_, " (", peer_name_, ")");
}

absl::Status TcpLink::ClosedByPeer() const {
  return absl::UnavailableError(
      absl::StrCat("connection to ", Who(), " closed by peer"));
}

absl::Status TcpLink::ConnectionLost(const char* what, int err) const {
  return absl::UnavailableError(absl::StrCat("connection to ", Who(), " lost (",
                                             what, "): ", strerror(err)));
}

void TcpLink::Fail(const absl::Status& status) {
  if (failed_) return;
  failed_ = true;
  MDN_LOG(Info) << "link to " << Who() << " failed: " << status;
  for (Conn& c : conns_) {
    if (c.fd.valid()) {
      loop_->Remove(c.fd.get());
      c.fd.reset();
    }
    c.queue.clear();
    c.queued_bytes = 0;
  }
  unclaimed_.clear();
  stash_.clear();
  stash_bytes_ = 0;
  if (kick_.valid()) {
    loop_->Remove(kick_.get());
    kick_.reset();
  }
  sends_.clear();
  recvs_.clear();
  // Last: the callback may destroy this link.
  events_->OnLinkError(peer_, status);
}

void TcpLink::UpdateInterest(Conn& c) {
  if (failed_ || !c.fd.valid()) return;
  uint32_t want = (c.rx == RxState::kParked || c.eof ? 0u : uint32_t{EPOLLIN}) |
                  (c.queue.empty() && (unclaimed_.empty() || !Sends(c))
                       ? 0u
                       : uint32_t{EPOLLOUT});
  if (want == c.interest) return;
  absl::Status st = loop_->Modify(c.fd.get(), want);
  if (!st.ok()) {
    // Called from PostSend, CancelThrough and the like, whose callers expect
    // the link to survive the call; fail from the loop instead.
    if (deferred_error_.ok()) {
      deferred_error_ = absl::InternalError(
          absl::StrCat("link to ", Who(), ": ", st.message()));
      Kick();
    }
    return;
  }
  c.interest = want;
}

void TcpLink::OnConnEvents(size_t index, uint32_t events) {
  if (failed_) return;
  Conn& c = conns_[index];
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    Fail(ConnectionLost("socket error", err != 0 ? err : ECONNRESET));
    return;
  }
  if ((events & EPOLLOUT) && !WriteSome(c)) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) {
    if (c.rx != RxState::kParked) {
      ReadSome(c);
    } else if (events & EPOLLHUP) {
      // Parked connections do not read, so a hang-up would otherwise be
      // reported again on every loop iteration.
      Fail(ClosedByPeer());
    }
  }
}

void TcpLink::PostSend(uint64_t op_seq, uint32_t msg, const OpDescriptor& desc,
                       const void* data, size_t len) {
  if (failed_) return;
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  size_t frames = len == 0 ? 1 : (len + frame_bytes_ - 1) / frame_bytes_;
  sends_[MsgKey{op_seq, msg}] += static_cast<uint32_t>(frames);
  FrameHeader h;
  h.type = FrameType::kData;
  h.op_seq = op_seq;
  h.msg = msg;
  h.desc = desc;
  size_t offset = 0;
  for (size_t i = 0; i < frames; ++i) {
    size_t n = std::min(frame_bytes_, len - offset);
    SendFrame& f = unclaimed_.emplace_back();
    h.offset = offset;
    h.length = static_cast<uint32_t>(n);
    EncodeFrameHeader(h, f.header);
    f.payload = bytes + offset;
    f.length = h.length;
    f.msg = msg;
    f.op_seq = op_seq;
    f.is_data = true;
    offset += n;
  }
  // Writing starts from the loop, never inside this call, so OnSendDone is
  // never raised from within the caller's PostSend.  Every connection
  // watches for room: whichever has it first takes the first frame.
  for (Conn& c : conns_) UpdateInterest(c);
}

void TcpLink::Claim(Conn& c, size_t budget) {
  if (!Sends(c)) return;
  while (!unclaimed_.empty() && c.queue.size() < kMaxIov / 2 &&
         c.queued_bytes < budget) {
    SendFrame& f = c.queue.emplace_back(std::move(unclaimed_.front()));
    unclaimed_.pop_front();
    c.queued_bytes += kFrameHeaderSize + f.length;
  }
}

void TcpLink::Unclaim(Conn& c) {
  // Unstarted data frames sit at the tail (InsertUrgent puts control frames
  // ahead of them); hand them back in order so another connection with room
  // sends them instead of this one waiting for its socket to drain.
  while (!c.queue.empty() && c.queue.back().is_data &&
         !(c.queue.size() == 1 && c.head_written > 0)) {
    SendFrame& f = c.queue.back();
    c.queued_bytes -= kFrameHeaderSize + f.length;
    unclaimed_.emplace_front(std::move(f));
    c.queue.pop_back();
  }
}

int TcpLink::FitToPath(double rate_Bps, double rtt_s) {
  if (failed_ || options_.connections_per_peer > 0) return sending_connections();
  // The window one connection carries: the receive buffer we asked for
  // (the kernel reports twice the requested size, half of which is its
  // bookkeeping allowance).
  int rcvbuf = 0;
  socklen_t len = sizeof(rcvbuf);
  int window = options_.socket_buffer_bytes > 0 ? options_.socket_buffer_bytes : 0;
  if (window == 0 &&
      getsockopt(conns_[0].fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0) {
    window = rcvbuf / 2;
  }
  const int k = ConnectionsForRate(rate_Bps, rtt_s, window,
                                   static_cast<int>(conns_.size()));
  if (k != fitted_conns_) {
    MDN_LOG(Info) << "link to " << Who() << ": fitted to " << k << " of "
                  << conns_.size() << " connections (measured "
                  << rate_Bps * 8 / 1e6 << " Mbit/s, RTT " << rtt_s * 1e3
                  << " ms, window " << window << " bytes)";
  }
  fitted_conns_ = k;
  // Frames a connection past k already claimed stay with it (a started
  // frame must finish on its connection); it takes no new ones.
  return k;
}

void TcpLink::SendOverAll(bool all) {
  over_all_ = all;
}

TcpLink::SendFrame& TcpLink::InsertUrgent(Conn& c) {
  auto pos = c.queue.begin();
  // A started frame must finish first or the byte stream loses its framing;
  // earlier urgent frames keep their order.
  if (c.head_written > 0) ++pos;
  while (pos != c.queue.end() && !pos->is_data) ++pos;
  return *c.queue.emplace(pos);
}

void TcpLink::SendAbort(uint64_t op_seq, const std::string& reason) {
  if (failed_) return;
  Conn& c = conns_[0];
  SendFrame& f = InsertUrgent(c);
  size_t n =
      std::min<size_t>(reason.size(), options_.limits.max_control_payload);
  f.owned.assign(reason.begin(), reason.begin() + n);
  FrameHeader h;
  h.type = FrameType::kAbort;
  h.op_seq = op_seq;
  h.length = static_cast<uint32_t>(n);
  EncodeFrameHeader(h, f.header);
  f.payload = f.owned.data();
  f.length = h.length;
  f.op_seq = op_seq;
  f.is_data = false;
  c.queued_bytes += kFrameHeaderSize + n;
  UpdateInterest(c);
}

void TcpLink::CancelThrough(uint64_t op_seq) {
  if (failed_) return;
  cancelled_through_ =
      any_cancelled_ ? std::max(cancelled_through_, op_seq) : op_seq;
  any_cancelled_ = true;
  CancelSends(cancelled_through_);
  CancelRecvs(cancelled_through_);
}

void TcpLink::CancelSends(uint64_t op_seq) {
  for (Conn& c : conns_) {
    std::deque<SendFrame>& q = c.queue;
    size_t kept = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      SendFrame& f = q[i];
      bool cancelled = f.is_data && f.op_seq <= op_seq;
      bool started = i == 0 && c.head_written > 0;
      if (cancelled && !started) {
        c.queued_bytes -= kFrameHeaderSize + f.length;
        continue;
      }
      if (cancelled && f.owned.empty() && f.length > 0) {
        // The caller may reuse its buffer once the op is cancelled, but the
        // rest of this frame must still go out: keep our own copy.
        f.owned.assign(f.payload, f.payload + f.length);
        f.payload = f.owned.data();
      }
      if (kept != i) q[kept] = std::move(f);
      ++kept;
    }
    q.resize(kept);
  }
  // Nothing unclaimed has started, so cancelled frames simply go.
  unclaimed_.erase(std::remove_if(unclaimed_.begin(), unclaimed_.end(),
                                  [op_seq](const SendFrame& f) {
                                    return f.op_seq <= op_seq;
                                  }),
                   unclaimed_.end());
  for (Conn& c : conns_) UpdateInterest(c);
  for (auto it = sends_.begin(); it != sends_.end();) {
    if (it->first.op_seq <= op_seq) {
      it = sends_.erase(it);
    } else {
      ++it;
    }
  }
}

bool TcpLink::WriteSome(Conn& c) {
  std::vector<MsgKey> done;
  done.swap(send_done_scratch_);  // a nested call would find it empty: safe
  done.clear();
  size_t budget = kWriteBudget;
  while (budget > 0) {
    Claim(c, budget);
    if (c.queue.empty()) break;
    struct iovec iov[kMaxIov];
    int n = 0;
    size_t want = 0;
    size_t skip = c.head_written;
    for (auto it = c.queue.begin();
         it != c.queue.end() && n + 2 <= kMaxIov && want < budget; ++it) {
      const SendFrame& f = *it;
      if (skip < kFrameHeaderSize) {
        iov[n].iov_base = const_cast<uint8_t*>(f.header + skip);
        iov[n].iov_len = kFrameHeaderSize - skip;
        want += iov[n++].iov_len;
        skip = 0;
      } else {
        skip -= kFrameHeaderSize;
      }
      if (f.length > skip) {
        iov[n].iov_base = const_cast<uint8_t*>(f.payload + skip);
        iov[n].iov_len = f.length - skip;
        want += iov[n++].iov_len;
      }
      skip = 0;
    }
    struct msghdr mh = {};
    mh.msg_iov = iov;
    mh.msg_iovlen = n;
    ssize_t w = sendmsg(c.fd.get(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Fail(ConnectionLost("send", errno));
      return false;
    }
    size_t left = static_cast<size_t>(w);
    c.bytes_sent += left;
    c.queued_bytes -= left;
    budget -= std::min(budget, left);
    while (left > 0) {
      SendFrame& f = c.queue.front();
      size_t rest = kFrameHeaderSize + f.length - c.head_written;
      if (left < rest) {
        c.head_written += left;
        break;
      }
      left -= rest;
      c.head_written = 0;
      if (f.is_data) {
        auto it = sends_.find(MsgKey{f.op_seq, f.msg});
        if (it != sends_.end() && --it->second == 0) {
          done.push_back(it->first);
          sends_.erase(it);
        }
      }
      c.queue.pop_front();
    }
    if (static_cast<size_t>(w) < want) break;  // the socket buffer is full
  }
  Unclaim(c);
  UpdateInterest(c);
  if (failed_) return false;
  if (!done.empty()) {
    std::shared_ptr<bool> alive = alive_;
    for (const MsgKey& k : done) {
      // An earlier callback may have cancelled this op: stay silent then.
      if (Cancelled(k.op_seq)) continue;
      events_->OnSendDone(peer_, k.op_seq, k.msg);
      if (!*alive) return false;
      if (failed_) return false;
    }
  }
  done.clear();
  send_done_scratch_.swap(done);
  return true;
}

}  // namespace meridian::transport
