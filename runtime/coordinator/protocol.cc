#include "runtime/coordinator/protocol.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "transport/wire.h"

namespace meridian::coordinator {

using transport::ByteReader;
using transport::ByteWriter;
using transport::FrameHeader;
using transport::FrameType;
using transport::kFrameHeaderSize;

namespace {

absl::Status Malformed(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed message: ", what));
}

void WriteHostPort(ByteWriter& w, const transport::HostPort& hp) {
  w.Str(hp.host);
  w.U16(hp.port);
}

absl::StatusOr<transport::HostPort> ReadHostPort(ByteReader& r) {
  transport::HostPort hp;
  MDN_ASSIGN_OR_RETURN(hp.host, r.Str(kMaxHostLength));
  MDN_ASSIGN_OR_RETURN(hp.port, r.U16());
  return hp;
}

absl::Status CheckWorldSize(int64_t world_size) {
  if (world_size < 1 || world_size > kMaxWorldSize) {
    return Malformed(absl::StrCat("world size ", world_size, " outside [1, ",
                                  kMaxWorldSize, "]"));
  }
  return absl::OkStatus();
}

// Doubles travel as their IEEE-754 bits, little-endian.
void WriteF64(ByteWriter& w, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  w.U64(bits);
}

absl::StatusOr<double> ReadF64(ByteReader& r) {
  MDN_ASSIGN_OR_RETURN(uint64_t bits, r.U64());
  double v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

// A measurement must be a positive, finite number; a compute rate may also
// be 0 (unknown).
absl::StatusOr<double> ReadMeasure(ByteReader& r, const char* what,
                                   bool zero_ok = false) {
  MDN_ASSIGN_OR_RETURN(double v, ReadF64(r));
  if (!std::isfinite(v) || std::signbit(v) || (v == 0 && !zero_ok)) {
    return Malformed(absl::StrCat("link matrix: ", what, " ", v,
                                  " is not a positive finite number"));
  }
  return v;
}

constexpr size_t kLinkPairBytes = 4 + 4 + 8 + 8 + 8 + 4;

void WriteLinkMatrix(ByteWriter& w, const LinkMatrix& m) {
  WriteF64(w, m.gamma_Bps);
  WriteF64(w, m.mem_Bps);
  WriteF64(w, m.incast_penalty);
  w.U32(static_cast<uint32_t>(m.pairs.size()));
  for (const LinkPair& p : m.pairs) {
    w.U32(static_cast<uint32_t>(p.a));
    w.U32(static_cast<uint32_t>(p.b));
    WriteF64(w, p.rtt_s);
    WriteF64(w, p.a_to_b_Bps);
    WriteF64(w, p.b_to_a_Bps);
    w.U32(p.round);
  }
}

// Pairs of ranks 0..n-1, each once, in increasing (a, b) order (which
// makes "each once" a comparison with the previous pair).
absl::StatusOr<LinkMatrix> ReadLinkMatrix(ByteReader& r, int n) {
  LinkMatrix m;
  MDN_ASSIGN_OR_RETURN(m.gamma_Bps, ReadMeasure(r, "reduce rate", true));
  MDN_ASSIGN_OR_RETURN(m.mem_Bps, ReadMeasure(r, "copy rate", true));
  MDN_ASSIGN_OR_RETURN(m.incast_penalty, ReadF64(r));
  if (!(m.incast_penalty == -1 || (m.incast_penalty >= 0 && m.incast_penalty <= 1))) {
    return Malformed(absl::StrCat("link matrix: incast penalty ", m.incast_penalty,
                                  " is neither -1 (unknown) nor within [0, 1]"));
  }
  MDN_ASSIGN_OR_RETURN(uint32_t count, r.U32());
  const uint64_t all_pairs = static_cast<uint64_t>(n) * (n - 1) / 2;
  if (count > kMaxLinkPairs || count > all_pairs) {
    return Malformed(absl::StrCat("link matrix of ", count, " pairs for ", n,
                                  " peers (at most ",
                                  std::min<uint64_t>(kMaxLinkPairs, all_pairs),
                                  ")"));
  }
  if (r.remaining() < static_cast<size_t>(count) * kLinkPairBytes) {
    return Malformed(absl::StrCat("link matrix of ", count, " pairs is truncated"));
  }
  m.pairs.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    LinkPair p;
    MDN_ASSIGN_OR_RETURN(uint32_t a, r.U32());
    MDN_ASSIGN_OR_RETURN(uint32_t b, r.U32());
    if (a >= b || b >= static_cast<uint32_t>(n)) {
      return Malformed(absl::StrCat("link pair (", a, ", ", b,
                                    ") is not an ordered pair of ", n, " peers"));
    }
    p.a = static_cast<int32_t>(a);
    p.b = static_cast<int32_t>(b);
    if (!m.pairs.empty() && std::make_pair(m.pairs.back().a, m.pairs.back().b) >=
                                std::make_pair(p.a, p.b)) {
      return Malformed(absl::StrCat("link pair (", a, ", ", b,
                                    ") repeated or out of order"));
    }
    MDN_ASSIGN_OR_RETURN(p.rtt_s, ReadMeasure(r, "round trip"));
    MDN_ASSIGN_OR_RETURN(p.a_to_b_Bps, ReadMeasure(r, "rate"));
    MDN_ASSIGN_OR_RETURN(p.b_to_a_Bps, ReadMeasure(r, "rate"));
    MDN_ASSIGN_OR_RETURN(p.round, r.U32());
    m.pairs.push_back(p);
  }
  return m;
}

absl::StatusOr<ControlMessage> DecodeHello(ByteReader& r) {
  HelloMsg m;
  MDN_ASSIGN_OR_RETURN(m.min_version, r.U16());
  MDN_ASSIGN_OR_RETURN(m.max_version, r.U16());
  if (m.min_version > m.max_version) {
    return Malformed(absl::StrCat("hello version range ", m.min_version, "..",
                                  m.max_version, " is empty"));
  }
  MDN_ASSIGN_OR_RETURN(uint8_t auth, r.U8());
  if (auth > 1) {
    return Malformed(absl::StrCat("hello auth flag ", int{auth},
                                  " is neither 0 nor 1"));
  }
  m.authenticated = auth == 1;
  MDN_RETURN_IF_ERROR(r.Bytes(m.nonce.data(), m.nonce.size()));
  return m;
}

absl::StatusOr<ControlMessage> DecodeWelcome(ByteReader& r) {
  WelcomeMsg m;
  MDN_ASSIGN_OR_RETURN(m.version, r.U16());
  MDN_RETURN_IF_ERROR(r.Bytes(m.nonce.data(), m.nonce.size()));
  MDN_RETURN_IF_ERROR(r.Bytes(m.mac.data(), m.mac.size()));
  MDN_ASSIGN_OR_RETURN(m.heartbeat_interval_ms, r.U32());
  return m;
}

// Range checks that need the group (rank < world size, sizes agree) are the
// coordinator's business: they are refusals, not malformed messages.
absl::StatusOr<ControlMessage> DecodeJoin(ByteReader& r) {
  JoinMsg m;
  MDN_ASSIGN_OR_RETURN(m.world_size, r.I32());
  MDN_ASSIGN_OR_RETURN(m.requested_rank, r.I32());
  MDN_ASSIGN_OR_RETURN(m.data_address, ReadHostPort(r));
  MDN_RETURN_IF_ERROR(r.Bytes(m.mac.data(), m.mac.size()));
  return m;
}

absl::StatusOr<ControlMessage> DecodeRoster(ByteReader& r) {
  RosterMsg m;
  Roster& ro = m.roster;
  MDN_ASSIGN_OR_RETURN(ro.group_id, r.U64());
  MDN_ASSIGN_OR_RETURN(ro.epoch, r.U64());
  MDN_ASSIGN_OR_RETURN(ro.rank, r.I32());
  MDN_ASSIGN_OR_RETURN(ro.world_size, r.I32());
  MDN_RETURN_IF_ERROR(CheckWorldSize(ro.world_size));
  if (ro.rank < 0 || ro.rank >= ro.world_size) {
    return Malformed(absl::StrCat("roster rank ", ro.rank,
                                  " outside world size ", ro.world_size));
  }
  // Each entry is at least 6 bytes; checking first keeps a forged world
  // size from reserving memory the payload cannot fill.
  if (r.remaining() < static_cast<size_t>(ro.world_size) * 6) {
    return Malformed(
        absl::StrCat("roster of ", ro.world_size, " peers is truncated"));
  }
  ro.peers.reserve(ro.world_size);
  for (int i = 0; i < ro.world_size; ++i) {
    MDN_ASSIGN_OR_RETURN(transport::HostPort hp, ReadHostPort(r));
    ro.peers.push_back(std::move(hp));
  }
  // Version 4: the known links follow, if any are known.
  if (r.remaining() > 0) {
    MDN_ASSIGN_OR_RETURN(ro.links, ReadLinkMatrix(r, ro.world_size));
    if (ro.links.empty()) {
      // One encoding per roster: nothing known is no section at all.
      return Malformed("roster with an empty link section");
    }
  }
  return m;
}

absl::StatusOr<ControlMessage> DecodeLinkReport(ByteReader& r) {
  LinkReportMsg m;
  MDN_ASSIGN_OR_RETURN(m.epoch, r.U64());
  MDN_ASSIGN_OR_RETURN(uint32_t members, r.U32());
  MDN_RETURN_IF_ERROR(CheckWorldSize(members));
  // As for a roster: at least 6 bytes per member before reserving.
  if (r.remaining() < static_cast<size_t>(members) * 6) {
    return Malformed(absl::StrCat("link report of ", members,
                                  " members is truncated"));
  }
  m.members.reserve(members);
  for (uint32_t i = 0; i < members; ++i) {
    MDN_ASSIGN_OR_RETURN(transport::HostPort hp, ReadHostPort(r));
    m.members.push_back(std::move(hp));
  }
  MDN_ASSIGN_OR_RETURN(m.links, ReadLinkMatrix(r, static_cast<int>(members)));
  return m;
}

absl::StatusOr<ControlMessage> DecodeError(ByteReader& r) {
  ErrorMsg m;
  MDN_ASSIGN_OR_RETURN(uint32_t code, r.U32());
  // A code this build does not know still reports as an error.
  m.code = code >= 1 && code <= 16 ? static_cast<absl::StatusCode>(code)
                                   : absl::StatusCode::kUnknown;
  MDN_ASSIGN_OR_RETURN(m.message, r.Str(16384));
  return m;
}

void WriteJoinFields(ByteWriter& w, const JoinMsg& m) {
  w.I32(m.world_size);
  w.I32(m.requested_rank);
  WriteHostPort(w, m.data_address);
}

void WriteReconnectFields(ByteWriter& w, const ReconnectMsg& m) {
  w.U64(m.group_id);
  w.U64(m.epoch);
  w.I32(m.rank);
  w.I32(m.world_size);
  WriteHostPort(w, m.data_address);
}

absl::StatusOr<ControlMessage> DecodeHeartbeat(ByteReader& r) {
  HeartbeatMsg m;
  MDN_ASSIGN_OR_RETURN(m.epoch, r.U64());
  return m;
}

absl::StatusOr<ControlMessage> DecodeNotice(ByteReader& r) {
  NoticeMsg m;
  MDN_ASSIGN_OR_RETURN(m.epoch, r.U64());
  MDN_ASSIGN_OR_RETURN(m.pending_joiners, r.I32());
  MDN_ASSIGN_OR_RETURN(m.lost_rank, r.I32());
  if (m.pending_joiners < 0 || m.pending_joiners > kMaxWorldSize) {
    return Malformed(absl::StrCat("notice: ", m.pending_joiners,
                                  " pending joiners"));
  }
  if (m.lost_rank < -1 || m.lost_rank >= kMaxWorldSize) {
    return Malformed(absl::StrCat("notice: lost rank ", m.lost_rank));
  }
  MDN_ASSIGN_OR_RETURN(uint8_t evicted, r.U8());
  if (evicted > 1) {
    return Malformed(absl::StrCat("notice evicted flag ", int{evicted},
                                  " is neither 0 nor 1"));
  }
  m.evicted = evicted == 1;
  MDN_ASSIGN_OR_RETURN(m.reason, r.Str(kMaxReasonLength));
  return m;
}

absl::StatusOr<ControlMessage> DecodeUpdate(ByteReader& r) {
  UpdateMsg m;
  MDN_ASSIGN_OR_RETURN(m.epoch, r.U64());
  MDN_ASSIGN_OR_RETURN(uint8_t force, r.U8());
  if (force > 1) {
    return Malformed(absl::StrCat("update force flag ", int{force},
                                  " is neither 0 nor 1"));
  }
  m.force = force == 1;
  return m;
}

// As with JOIN, whether rank and epoch make sense is the coordinator's
// decision, except what no group can have.
absl::StatusOr<ControlMessage> DecodeReconnect(ByteReader& r) {
  ReconnectMsg m;
  MDN_ASSIGN_OR_RETURN(m.group_id, r.U64());
  MDN_ASSIGN_OR_RETURN(m.epoch, r.U64());
  MDN_ASSIGN_OR_RETURN(m.rank, r.I32());
  MDN_ASSIGN_OR_RETURN(m.world_size, r.I32());
  MDN_RETURN_IF_ERROR(CheckWorldSize(m.world_size));
  if (m.rank < 0 || m.rank >= m.world_size) {
    return Malformed(absl::StrCat("reconnect rank ", m.rank,
                                  " outside world size ", m.world_size));
  }
  MDN_ASSIGN_OR_RETURN(m.data_address, ReadHostPort(r));
  MDN_RETURN_IF_ERROR(r.Bytes(m.mac.data(), m.mac.size()));
  return m;
}

}  // namespace

std::vector<uint8_t> JoinAuthContext(const JoinMsg& join) {
  ByteWriter w;
  WriteJoinFields(w, join);
  return w.Take();
}

std::vector<uint8_t> ReconnectAuthContext(const ReconnectMsg& msg) {
  ByteWriter w;
  WriteReconnectFields(w, msg);
  return w.Take();
}

MsgType TypeOf(const ControlMessage& msg) {
  struct Visitor {
    MsgType operator()(const HelloMsg&) const { return MsgType::kHello; }
    MsgType operator()(const WelcomeMsg&) const { return MsgType::kWelcome; }
    MsgType operator()(const JoinMsg&) const { return MsgType::kJoin; }
    MsgType operator()(const RosterMsg&) const { return MsgType::kRoster; }
    MsgType operator()(const ErrorMsg&) const { return MsgType::kError; }
    MsgType operator()(const HeartbeatMsg&) const {
      return MsgType::kHeartbeat;
    }
    MsgType operator()(const NoticeMsg&) const { return MsgType::kNotice; }
    MsgType operator()(const UpdateMsg&) const { return MsgType::kUpdate; }
    MsgType operator()(const ReconnectMsg&) const {
      return MsgType::kReconnect;
    }
    MsgType operator()(const LinkReportMsg&) const {
      return MsgType::kLinkReport;
    }
  };
  return std::visit(Visitor{}, msg);
}

const char* MsgTypeName(MsgType type) {
  switch (type) {
    case MsgType::kHello:
      return "HELLO";
    case MsgType::kWelcome:
      return "WELCOME";
    case MsgType::kJoin:
      return "JOIN";
    case MsgType::kRoster:
      return "ROSTER";
    case MsgType::kError:
      return "ERROR";
    case MsgType::kHeartbeat:
      return "HEARTBEAT";
    case MsgType::kNotice:
      return "NOTICE";
    case MsgType::kUpdate:
      return "UPDATE";
    case MsgType::kReconnect:
      return "RECONNECT";
    case MsgType::kLinkReport:
      return "LINK_REPORT";
  }
  return "?";
}

std::vector<uint8_t> EncodePayload(const ControlMessage& msg) {
  ByteWriter w;
  w.U8(static_cast<uint8_t>(TypeOf(msg)));
  if (const auto* m = std::get_if<HelloMsg>(&msg)) {
    w.U16(m->min_version);
    w.U16(m->max_version);
    w.U8(m->authenticated ? 1 : 0);
    w.Bytes(m->nonce.data(), m->nonce.size());
  } else if (const auto* m = std::get_if<WelcomeMsg>(&msg)) {
    w.U16(m->version);
    w.Bytes(m->nonce.data(), m->nonce.size());
    w.Bytes(m->mac.data(), m->mac.size());
    w.U32(m->heartbeat_interval_ms);
  } else if (const auto* m = std::get_if<JoinMsg>(&msg)) {
    WriteJoinFields(w, *m);
    w.Bytes(m->mac.data(), m->mac.size());
  } else if (const auto* m = std::get_if<RosterMsg>(&msg)) {
    const Roster& ro = m->roster;
    w.U64(ro.group_id);
    w.U64(ro.epoch);
    w.I32(ro.rank);
    w.I32(ro.world_size);
    for (const transport::HostPort& hp : ro.peers) WriteHostPort(w, hp);
    if (!ro.links.empty()) WriteLinkMatrix(w, ro.links);
  } else if (const auto* m = std::get_if<ErrorMsg>(&msg)) {
    w.U32(static_cast<uint32_t>(m->code));
    w.Str(m->message);
  } else if (const auto* m = std::get_if<HeartbeatMsg>(&msg)) {
    w.U64(m->epoch);
  } else if (const auto* m = std::get_if<NoticeMsg>(&msg)) {
    w.U64(m->epoch);
    w.I32(m->pending_joiners);
    w.I32(m->lost_rank);
    w.U8(m->evicted ? 1 : 0);
    w.Str(m->reason.substr(0, kMaxReasonLength));
  } else if (const auto* m = std::get_if<UpdateMsg>(&msg)) {
    w.U64(m->epoch);
    w.U8(m->force ? 1 : 0);
  } else if (const auto* m = std::get_if<ReconnectMsg>(&msg)) {
    WriteReconnectFields(w, *m);
    w.Bytes(m->mac.data(), m->mac.size());
  } else if (const auto* m = std::get_if<LinkReportMsg>(&msg)) {
    w.U64(m->epoch);
    w.U32(static_cast<uint32_t>(m->members.size()));
    for (const transport::HostPort& hp : m->members) WriteHostPort(w, hp);
    WriteLinkMatrix(w, m->links);
  }
  return w.Take();
}

absl::StatusOr<ControlMessage> DecodePayload(const uint8_t* data, size_t len) {
  ByteReader r(data, len);
  MDN_ASSIGN_OR_RETURN(uint8_t type, r.U8());
  absl::StatusOr<ControlMessage> msg;
  switch (static_cast<MsgType>(type)) {
    case MsgType::kHello:
      msg = DecodeHello(r);
      break;
    case MsgType::kWelcome:
      msg = DecodeWelcome(r);
      break;
    case MsgType::kJoin:
      msg = DecodeJoin(r);
      break;
    case MsgType::kRoster:
      msg = DecodeRoster(r);
      break;
    case MsgType::kError:
      msg = DecodeError(r);
      break;
    case MsgType::kHeartbeat:
      msg = DecodeHeartbeat(r);
      break;
    case MsgType::kNotice:
      msg = DecodeNotice(r);
      break;
    case MsgType::kUpdate:
      msg = DecodeUpdate(r);
      break;
    case MsgType::kReconnect:
      msg = DecodeReconnect(r);
      break;
    case MsgType::kLinkReport:
      msg = DecodeLinkReport(r);
      break;
    default:
      return Malformed(absl::StrCat("unknown message type ", type));
  }
  if (!msg.ok()) return msg.status();
  if (r.remaining() != 0) {
    return Malformed(absl::StrCat(r.remaining(), " trailing bytes after ",
                                  MsgTypeName(static_cast<MsgType>(type))));
  }
  return msg;
}

std::vector<uint8_t> EncodeFrame(const ControlMessage& msg) {
  std::vector<uint8_t> payload = EncodePayload(msg);
  FrameHeader h;
  h.type = FrameType::kControl;
  h.length = static_cast<uint32_t>(payload.size());
  std::vector<uint8_t> out(kFrameHeaderSize + payload.size());
  transport::EncodeFrameHeader(h, out.data());
  std::copy(payload.begin(), payload.end(), out.begin() + kFrameHeaderSize);
  return out;
}

absl::Status WriteMessage(int fd, const ControlMessage& msg,
                          transport::Deadline deadline) {
  std::vector<uint8_t> frame = EncodeFrame(msg);
  return transport::WriteFull(fd, frame.data(), frame.size(), deadline);
}

absl::StatusOr<ControlMessage> ReadMessage(int fd,
                                           const transport::FrameLimits& limits,
                                           transport::Deadline deadline) {
  uint8_t header[kFrameHeaderSize];
  MDN_RETURN_IF_ERROR(
      transport::ReadFull(fd, header, sizeof(header), deadline));
  MDN_ASSIGN_OR_RETURN(FrameHeader h,
                       transport::DecodeFrameHeader(header, limits));
  if (h.type != FrameType::kControl) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed frame: type ", static_cast<int>(h.type),
                     " where a control frame was expected"));
  }
  std::vector<uint8_t> payload(h.length);
  MDN_RETURN_IF_ERROR(
      transport::ReadFull(fd, payload.data(), payload.size(), deadline));
  return DecodePayload(payload.data(), payload.size());
}

size_t FrameAssembler::wanted() const {
  size_t total = kFrameHeaderSize + (payload_length_ ? *payload_length_ : 0);
  return total - buf_.size();
}

void FrameAssembler::Append(const uint8_t* data, size_t len) {
  buf_.insert(buf_.end(), data, data + len);
}

absl::StatusOr<std::optional<ControlMessage>> FrameAssembler::Next() {
  if (!payload_length_) {
    if (buf_.size() < kFrameHeaderSize) return std::nullopt;
    MDN_ASSIGN_OR_RETURN(FrameHeader h,
                         transport::DecodeFrameHeader(buf_.data(), limits_));
    if (h.type != FrameType::kControl) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed frame: type ", static_cast<int>(h.type),
                       " on a coordinator connection"));
    }
    payload_length_ = h.length;
  }
  size_t total = kFrameHeaderSize + *payload_length_;
  if (buf_.size() < total) return std::nullopt;
  absl::StatusOr<ControlMessage> msg =
      DecodePayload(buf_.data() + kFrameHeaderSize, *payload_length_);
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(total));
  payload_length_.reset();
  if (!msg.ok()) return msg.status();
  return std::optional<ControlMessage>(std::move(*msg));
}

}  // namespace meridian::coordinator
