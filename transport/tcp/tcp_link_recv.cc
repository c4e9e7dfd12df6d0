// TcpLink receive path: frame headers are decoded and checked, payloads land
// directly in the posted buffer at the frame's offset, and a connection whose
// next frame has no posted receive stops reading (parks) until one is posted.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "transport/tcp/tcp_link.h"

namespace meridian::transport {

namespace {
// One handler call reads at most this much before returning to the loop, so
// that one fast connection cannot starve the others.
constexpr size_t kReadBudget = 16u << 20;
// Discarded payloads (cancelled ops, mismatched descriptors) are drained
// through a buffer of this size.
constexpr size_t kScratchBytes = 256u << 10;
// Early frames kept in memory per link before connections park instead.
constexpr size_t kStashBytes = 256u << 10;
// Passive rate: a batch of data reads that starts within this long of the
// link's previous one continues a streak, and the time between them counts
// as time the link was carrying data; a longer silence means the sender had
// nothing to send (a step of compute, a slower link upstream, the next
// operation not called yet), and that time must not lower the rate.  2 ms
// is well above the spacing of arrivals on a busy link (a segment every
// 1.5 ms even at 1 MB/s; the loop's own wake-up takes microseconds) and
// below the pauses between and inside collectives that it must skip.
constexpr auto kStreamGap = std::chrono::milliseconds(2);
}  // namespace

PassiveSample TcpLink::TakePassiveSample() {
  PassiveSample s = passive_;
  passive_ = PassiveSample{};
  return s;
}

void TcpLink::NoteBatch() {
  if (batch_bytes_ == 0) return;
  // One clock read at the start of the batch's first payload read and one
  // here: against readv calls of up to a frame each, noise.
  const Clock::time_point end = Clock::now();
  if (last_data_read_ != Clock::time_point{} && batch_start_ - last_data_read_ <= kStreamGap) {
    passive_.bytes += batch_bytes_;
    passive_.seconds += std::chrono::duration<double>(end - last_data_read_).count();
  } else {
    passive_.unclocked_bytes += batch_bytes_;
  }
  last_data_read_ = end;
}

uint8_t* TcpLink::Scratch() {
  if (!scratch_) scratch_.reset(new uint8_t[kScratchBytes]);
  return scratch_.get();
}

void TcpLink::Kick() {
  uint64_t one = 1;
  ssize_t rc = write(kick_.get(), &one, sizeof(one));
  (void)rc;  // EAGAIN: the counter is saturated, a kick is pending anyway
}

void TcpLink::PostRecv(uint64_t op_seq, uint32_t msg, const OpDescriptor& desc,
                       void* data, size_t len) {
  if (failed_) return;
  PostedRecv r;
  r.data = static_cast<uint8_t*>(data);
  r.len = len;
  r.desc = desc;
  recvs_.insert_or_assign(MsgKey{op_seq, msg}, r);
  bool kick = false;
  if (stash_.count(MsgKey{op_seq, msg}) != 0) {
    stash_ready_ = true;
    kick = true;
  }
  for (Conn& c : conns_) {
    if (c.rx == RxState::kParked && c.frame.op_seq == op_seq &&
        c.frame.msg == msg && !c.resume_pending) {
      c.resume_pending = true;
      kick = true;
    }
  }
  // Resumed from the loop, not here: resuming may complete the message, and
  // OnRecvDone must not run inside the caller's PostRecv.
  if (kick) Kick();
}

void TcpLink::ExpectOp(uint64_t op_seq, const OpDescriptor& desc) {
  if (failed_) return;
  expecting_ = true;
  expect_reported_ = false;
  expect_seq_ = op_seq;
  expect_desc_ = desc;
  // Frames of this operation that arrived early wait parked: look at them
  // again from the loop (never inside the caller's call).
  bool kick = false;
  for (Conn& c : conns_) {
    if (c.rx == RxState::kParked && c.frame.op_seq == op_seq && !c.resume_pending) {
      c.resume_pending = true;
      kick = true;
    }
  }
  if (kick) Kick();
}

void TcpLink::CancelRecvs(uint64_t op_seq) {
  for (auto it = recvs_.begin(); it != recvs_.end();) {
    if (it->first.op_seq <= op_seq) {
      it = recvs_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = stash_.begin(); it != stash_.end();) {
    if (it->first.op_seq <= op_seq) {
      for (const StashedFrame& f : it->second) stash_bytes_ -= f.bytes.size();
      it = stash_.erase(it);
    } else {
      ++it;
    }
  }
  bool kick = false;
  for (Conn& c : conns_) {
    if (c.frame.type != FrameType::kData || c.frame.op_seq > op_seq) continue;
    if (c.rx == RxState::kParked) {
      // Waiting for a receive that will never be posted now: drain instead.
      if (!c.resume_pending) kick = true;
      c.resume_pending = true;
    } else if (c.rx == RxState::kPayload) {
      // The caller may reuse the buffer as soon as we return.
      c.dest = nullptr;
      c.deliver = false;
    }
  }
  if (kick) Kick();
}

void TcpLink::OnKick() {
  uint64_t count;
  while (read(kick_.get(), &count, sizeof(count)) > 0) {
  }
  if (!deferred_error_.ok()) return Fail(deferred_error_);
  if (stash_ready_) {
    stash_ready_ = false;
    std::vector<MsgKey> ready;
    for (const auto& [key, frames] : stash_) {
      if (recvs_.count(key) != 0) ready.push_back(key);
    }
    for (const MsgKey& key : ready) {
      if (!DeliverStash(key)) return;
    }
  }
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (failed_) return;
    Conn& c = conns_[i];
    if (!c.resume_pending) continue;
    c.resume_pending = false;
    if (c.rx != RxState::kParked) continue;
    if (!BeginData(c)) return;  // failed or destroyed by a callback
  }
}

void TcpLink::Discard(Conn& c) {
  c.dest = nullptr;
  c.deliver = false;
  c.rx = c.frame.length == 0 ? RxState::kHeader : RxState::kPayload;
  UpdateInterest(c);
}

bool TcpLink::ReadSome(Conn& c) {
  batch_bytes_ = 0;
  batch_clocked_ = false;
  // false: the link failed or a callback destroyed it; nothing to note.
  if (!ReadBatch(c)) return false;
  NoteBatch();
  return true;
}

bool TcpLink::ReadBatch(Conn& c) {
  size_t budget = kReadBudget;
  while (budget > 0) {
    if (c.rx == RxState::kParked) return true;
    ssize_t n;
    if (c.rx == RxState::kHeader) {
      if (c.hdr_have == kFrameHeaderSize) {
        if (!OnHeader(c)) return false;
        continue;
      }
      n = recv(c.fd.get(), c.hdr + c.hdr_have, kFrameHeaderSize - c.hdr_have,
               MSG_DONTWAIT);
      if (n > 0) {
        c.hdr_have += static_cast<size_t>(n);
        c.bytes_received += static_cast<uint64_t>(n);
        budget -= std::min(budget, static_cast<size_t>(n));
        continue;
      }
    } else {
      size_t rest = c.frame.length - c.payload_done;
      struct iovec iov[2];
      iov[0].iov_base = c.dest != nullptr ? c.dest + c.payload_done : Scratch();
      iov[0].iov_len = c.dest != nullptr ? rest : std::min(rest, kScratchBytes);
      // Reading the next header in the same call saves a syscall per frame;
      // only when this call can finish the payload, so bytes stay in order.
      iov[1].iov_base = c.hdr;
      iov[1].iov_len = kFrameHeaderSize;
      int niov = iov[0].iov_len == rest ? 2 : 1;
      const bool data = c.frame.type == FrameType::kData;
      if (data && !batch_clocked_) {
        batch_start_ = Clock::now();
        batch_clocked_ = true;
      }
      n = readv(c.fd.get(), iov, niov);
      if (n > 0) {
        size_t got = static_cast<size_t>(n);
        size_t payload = std::min(got, rest);
        if (data) batch_bytes_ += payload;
        c.payload_done += payload;
        c.hdr_have = got - payload;
        c.bytes_received += got;
        budget -= std::min(budget, got);
        if (c.payload_done == c.frame.length && !CompleteFrame(c)) return false;
        continue;
      }
    }
    if (n == 0) {
      if (c.rx == RxState::kHeader && c.hdr_have == 0) {
        c.eof = true;
        UpdateInterest(c);
        for (const Conn& other : conns_) {
          if (!other.eof) return true;
        }
      }
      Fail(ClosedByPeer());
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    Fail(ConnectionLost("receive", errno));
    return false;
  }
  return true;
}

bool TcpLink::OnHeader(Conn& c) {
  absl::StatusOr<FrameHeader> h = DecodeFrameHeader(c.hdr, options_.limits);
  c.hdr_have = 0;
  if (!h.ok()) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat(Who(), ": ", h.status().message())));
    return false;
  }
  c.frame = *h;
  c.payload_done = 0;
  c.dest = nullptr;
  c.deliver = false;
  switch (c.frame.type) {
    case FrameType::kData:
      return BeginData(c);
    case FrameType::kAbort:
      c.abort_reason.assign(c.frame.length, '\0');
      c.dest = reinterpret_cast<uint8_t*>(c.abort_reason.data());
      if (c.frame.length == 0) return CompleteFrame(c);
      c.rx = RxState::kPayload;
      return true;
    default:
      Fail(absl::InvalidArgumentError(absl::StrCat(
          Who(), ": malformed frame: unexpected frame type ",
          static_cast<int>(c.frame.type), " on a data connection")));
      return false;
  }
}

bool TcpLink::BeginData(Conn& c) {
  const FrameHeader& h = c.frame;
  if (Cancelled(h.op_seq)) {
    Discard(c);
    return true;
  }
  auto it = recvs_.find(MsgKey{h.op_seq, h.msg});
  if (it == recvs_.end()) {
    if (expecting_ && h.op_seq == expect_seq_ &&
        memcmp(expect_desc_.data(), h.desc.data(), h.desc.size()) != 0) {
      // The peer runs another operation under this number: no receive of
      // ours will ever match it.
      const bool report = !expect_reported_;
      expect_reported_ = true;
      OpDescriptor expected = expect_desc_;
      OpDescriptor received = h.desc;
      uint64_t op_seq = h.op_seq;
      Discard(c);
      if (!report) return true;
      std::shared_ptr<bool> alive = alive_;
      events_->OnDescriptorMismatch(peer_, op_seq, expected, received);
      return *alive && !failed_;
    }
    if (stash_bytes_ + h.length <= kStashBytes) {
      stash_bytes_ += h.length;
      c.stash_buf.assign(h.length, 0);
      c.stashing = true;
      c.dest = c.stash_buf.data();
      c.deliver = false;
      if (h.length == 0) return CompleteFrame(c);
      c.rx = RxState::kPayload;
      UpdateInterest(c);
      return true;
    }
    // Back-pressure: the bytes wait in the socket, not in our memory.
    c.rx = RxState::kParked;
    UpdateInterest(c);
    return true;
  }
  PostedRecv& r = it->second;
  if (r.mismatched) {
    Discard(c);
    return true;
  }
  if (memcmp(r.desc.data(), h.desc.data(), r.desc.size()) != 0) {
    r.mismatched = true;  // one event per message, not one per frame
    OpDescriptor expected = r.desc;
    OpDescriptor received = h.desc;
    uint64_t op_seq = h.op_seq;
    Discard(c);
    std::shared_ptr<bool> alive = alive_;
    events_->OnDescriptorMismatch(peer_, op_seq, expected, received);
    return *alive && !failed_;
  }
  if (h.offset > r.len || h.length > r.len - h.offset ||
      h.length > r.len - r.received) {
    Fail(absl::InvalidArgumentError(absl::StrCat(
        Who(), ": frame of ", h.length, " bytes at offset ", h.offset,
        " overruns the ", r.len, "-byte receive posted for op ", h.op_seq,
        " message ", h.msg)));
    return false;
  }
  c.dest = r.data + h.offset;
  c.deliver = true;
  if (h.length == 0) return CompleteFrame(c);
  c.rx = RxState::kPayload;
  UpdateInterest(c);
  return true;
}

bool TcpLink::CompleteFrame(Conn& c) {
  c.rx = RxState::kHeader;
  UpdateInterest(c);
  const FrameHeader& h = c.frame;
  std::shared_ptr<bool> alive = alive_;
  if (h.type == FrameType::kAbort) {
    std::string reason = std::move(c.abort_reason);
    c.abort_reason.clear();
    c.dest = nullptr;
    events_->OnRemoteAbort(peer_, h.op_seq, reason);
    return *alive && !failed_;
  }
  bool deliver = c.deliver;
  c.dest = nullptr;
  c.deliver = false;
  if (c.stashing) {
    c.stashing = false;
    MsgKey key{h.op_seq, h.msg};
    if (Cancelled(h.op_seq)) {
      stash_bytes_ -= c.stash_buf.size();
      c.stash_buf.clear();
      return true;
    }
    stash_[key].push_back(StashedFrame{h.offset, h.desc, std::move(c.stash_buf)});
    c.stash_buf.clear();
    // Its receive may have been posted while the payload was read.
    return DeliverStash(key);
  }
  if (!deliver) return true;
  MsgKey key{h.op_seq, h.msg};
  auto it = recvs_.find(key);
  if (it == recvs_.end()) return true;
  it->second.received += h.length;
  if (it->second.received < it->second.len) return true;
  recvs_.erase(it);
  events_->OnRecvDone(peer_, key.op_seq, key.msg);
  return *alive && !failed_;
}

bool TcpLink::DeliverStash(const MsgKey& key) {
  auto sit = stash_.find(key);
  auto rit = recvs_.find(key);
  if (sit == stash_.end() || rit == recvs_.end()) return true;
  std::vector<StashedFrame> frames = std::move(sit->second);
  stash_.erase(sit);
  for (const StashedFrame& f : frames) stash_bytes_ -= f.bytes.size();
  PostedRecv& r = rit->second;
  std::shared_ptr<bool> alive = alive_;
  for (const StashedFrame& f : frames) {
    if (r.mismatched) return true;
    if (memcmp(r.desc.data(), f.desc.data(), r.desc.size()) != 0) {
      r.mismatched = true;
      OpDescriptor expected = r.desc;
      events_->OnDescriptorMismatch(peer_, key.op_seq, expected, f.desc);
      return *alive && !failed_;
    }
    const size_t len = f.bytes.size();
    if (f.offset > r.len || len > r.len - f.offset || len > r.len - r.received) {
      Fail(absl::InvalidArgumentError(absl::StrCat(
          Who(), ": frame of ", len, " bytes at offset ", f.offset, " overruns the ", r.len,
          "-byte receive posted for op ", key.op_seq, " message ", key.msg)));
      return false;
    }
    if (len > 0) memcpy(r.data + f.offset, f.bytes.data(), len);
    r.received += len;
  }
  if (r.received < r.len) return true;
  recvs_.erase(rit);
  events_->OnRecvDone(peer_, key.op_seq, key.msg);
  return *alive && !failed_;
}

}  // namespace meridian::transport
