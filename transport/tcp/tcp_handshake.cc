#include "transport/tcp/tcp_handshake.h"

#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "transport/socket.h"
#include "transport/wire.h"

namespace meridian::transport {

namespace {

std::vector<uint8_t> Frame(const std::vector<uint8_t>& payload) {
  FrameHeader h;
  h.type = FrameType::kHello;
  h.length = static_cast<uint32_t>(payload.size());
  std::vector<uint8_t> out(kFrameHeaderSize + payload.size());
  EncodeFrameHeader(h, out.data());
  std::copy(payload.begin(), payload.end(), out.begin() + kFrameHeaderSize);
  return out;
}

absl::Status TrailingBytes(const ByteReader& r, const char* what) {
  if (r.remaining() == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "malformed ", what, ": ", r.remaining(), " unexpected trailing bytes"));
}

}  // namespace

std::vector<uint8_t> HelloAuthContext(const Hello& hello) {
  ByteWriter w;
  w.U64(hello.group_id);
  w.U64(hello.epoch);
  w.I32(hello.from_rank);
  w.I32(hello.to_rank);
  w.U32(hello.conn_index);
  w.U32(hello.num_connections);
  w.U8(hello.authenticated ? 1 : 0);
  return w.Take();
}

std::vector<uint8_t> EncodeHelloFrame(const Hello& hello) {
  ByteWriter w;
  std::vector<uint8_t> fields = HelloAuthContext(hello);
  w.Bytes(fields.data(), fields.size());
  w.Bytes(hello.nonce.data(), hello.nonce.size());
  return Frame(w.data());
}

std::vector<uint8_t> EncodeHelloReplyFrame(const HelloReply& reply) {
  ByteWriter w;
  // Verdict: 1 accepted, 0 refused, 2 refused for authentication.
  w.U8(reply.accepted ? 1 : (reply.auth_refused ? 2 : 0));
  // Cut so that the reply always fits the peer's handshake limit.
  w.Str(reply.reason.substr(0, 1024));
  w.Bytes(reply.nonce.data(), reply.nonce.size());
  w.Bytes(reply.mac.data(), reply.mac.size());
  return Frame(w.data());
}

std::vector<uint8_t> EncodeHelloConfirmFrame(const HelloConfirm& confirm) {
  ByteWriter w;
  w.Bytes(confirm.mac.data(), confirm.mac.size());
  return Frame(w.data());
}

absl::StatusOr<Hello> DecodeHello(const std::vector<uint8_t>& payload) {
  ByteReader r(payload.data(), payload.size());
  Hello h;
  MDN_ASSIGN_OR_RETURN(h.group_id, r.U64());
  MDN_ASSIGN_OR_RETURN(h.epoch, r.U64());
  MDN_ASSIGN_OR_RETURN(h.from_rank, r.I32());
  MDN_ASSIGN_OR_RETURN(h.to_rank, r.I32());
  MDN_ASSIGN_OR_RETURN(h.conn_index, r.U32());
  MDN_ASSIGN_OR_RETURN(h.num_connections, r.U32());
  MDN_ASSIGN_OR_RETURN(uint8_t auth, r.U8());
  if (auth > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed hello: auth flag ", int{auth}, " is neither 0 nor 1"));
  }
  h.authenticated = auth == 1;
  MDN_RETURN_IF_ERROR(r.Bytes(h.nonce.data(), h.nonce.size()));
  MDN_RETURN_IF_ERROR(TrailingBytes(r, "hello"));
  return h;
}

absl::StatusOr<HelloReply> DecodeHelloReply(
    const std::vector<uint8_t>& payload) {
  ByteReader r(payload.data(), payload.size());
  HelloReply reply;
  MDN_ASSIGN_OR_RETURN(uint8_t accepted, r.U8());
  if (accepted > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed hello reply: verdict ", int{accepted},
                     " is not 0, 1 or 2"));
  }
  reply.accepted = accepted == 1;
  reply.auth_refused = accepted == 2;
  MDN_ASSIGN_OR_RETURN(reply.reason, r.Str(1024));
  MDN_RETURN_IF_ERROR(r.Bytes(reply.nonce.data(), reply.nonce.size()));
  MDN_RETURN_IF_ERROR(r.Bytes(reply.mac.data(), reply.mac.size()));
  MDN_RETURN_IF_ERROR(TrailingBytes(r, "hello reply"));
  return reply;
}

absl::StatusOr<HelloConfirm> DecodeHelloConfirm(
    const std::vector<uint8_t>& payload) {
  ByteReader r(payload.data(), payload.size());
  HelloConfirm confirm;
  MDN_RETURN_IF_ERROR(r.Bytes(confirm.mac.data(), confirm.mac.size()));
  MDN_RETURN_IF_ERROR(TrailingBytes(r, "hello confirmation"));
  return confirm;
}

std::string CheckHello(const Hello& h, const MeshSpec& spec, bool* auth) {
  const bool have_token = !spec.auth_token.empty();
  if (h.authenticated != have_token) {
    if (auth != nullptr) *auth = true;
    return have_token
               ? absl::StrCat("authentication failed: rank ", spec.rank,
                              " requires the shared token but the dialer has "
                              "none (set MERIDIAN_AUTH_TOKEN)")
               : absl::StrCat("authentication failed: the dialer uses a token "
                              "but rank ",
                              spec.rank,
                              " runs without one (MERIDIAN_INSECURE); "
                              "refusing rather than dropping authentication");
  }
  if (h.group_id != spec.group_id) {
    return absl::StrCat("group mismatch: the connection is for group ",
                        h.group_id, " but rank ", spec.rank,
                        " here belongs to group ", spec.group_id);
  }
  if (h.epoch != spec.epoch) {
    return absl::StrCat("epoch mismatch: the connection is for epoch ", h.epoch,
                        " but rank ", spec.rank, " here is at epoch ",
                        spec.epoch);
  }
  if (h.to_rank != spec.rank) {
    return absl::StrCat("rank mismatch: the connection is for rank ", h.to_rank,
                        " but this is rank ", spec.rank);
  }
  if (h.from_rank < 0 || h.from_rank >= spec.world_size) {
    return absl::StrCat("rank ", h.from_rank, " is not in the group of ",
                        spec.world_size);
  }
  if (h.from_rank >= spec.rank) {
    return absl::StrCat("rank ", h.from_rank, " must not dial rank ", spec.rank,
                        " (lower ranks dial higher ones)");
  }
  // A fixed K must match; in auto mode the dialer chose K for this pair
  // from the RTT it measured, and the acceptor takes it (the mesh checks
  // that every connection of the pair says the same).
  const uint32_t fixed = static_cast<uint32_t>(spec.options.connections_per_peer);
  if (fixed > 0 && h.num_connections != fixed) {
    return absl::StrCat("connections-per-peer mismatch: the dialer uses ",
                        h.num_connections, " but rank ", spec.rank, " uses ",
                        fixed, " (set MERIDIAN_CONNECTIONS_PER_PEER alike on "
                        "every peer, or on none)");
  }
  if (h.num_connections < 1 || h.num_connections > kMaxConnectionsPerPeer) {
    return absl::StrCat("connections per peer ", h.num_connections,
                        " outside [1, ", kMaxConnectionsPerPeer, "]");
  }
  if (h.conn_index >= h.num_connections) {
    return absl::StrCat("connection index ", h.conn_index, " out of range for ",
                        h.num_connections, " connections");
  }
  return "";
}

absl::Status FrameReader::Read(int fd, const FrameLimits& limits) {
  while (!done_) {
    ssize_t n;
    if (!header_ok_) {
      n = recv(fd, hdr_ + hdr_have_, kFrameHeaderSize - hdr_have_,
               MSG_DONTWAIT);
      if (n > 0) {
        hdr_have_ += static_cast<size_t>(n);
        if (hdr_have_ < kFrameHeaderSize) continue;
        MDN_ASSIGN_OR_RETURN(header_, DecodeFrameHeader(hdr_, limits));
        header_ok_ = true;
        payload_.resize(header_.length);
        done_ = header_.length == 0;
        continue;
      }
    } else {
      n = recv(fd, payload_.data() + payload_have_,
               payload_.size() - payload_have_, MSG_DONTWAIT);
      if (n > 0) {
        payload_have_ += static_cast<size_t>(n);
        done_ = payload_have_ == payload_.size();
        continue;
      }
    }
    if (n == 0) return absl::UnavailableError("connection closed by peer");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
    return ErrnoStatus("receive", errno);
  }
  return absl::OkStatus();
}

}  // namespace meridian::transport
