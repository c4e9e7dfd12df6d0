// The coordinator wire protocol.  Every message travels in one
// FrameType::kControl frame; its payload starts with a MsgType byte, then
// the message's fields (ByteWriter encoding, little-endian).
//
// A session:   peer -> HELLO{min,max version, auth flag, nonce_p}
//              coord -> WELCOME{version, nonce_c, mac_c, heartbeat interval}
//                       or ERROR, then close
//              peer -> JOIN{world size, rank, data address, mac_p}
//              coord -> ROSTER                or ERROR, then close
// The connection then stays open; its close is the peer leaving.  While
// open, the peer sends HEARTBEAT every interval (also while it waits for the
// group to form or to be admitted); the coordinator evicts a peer it has not
// heard from for its heartbeat timeout.  Afterwards:
//              coord -> NOTICE{epoch, pending joiners, lost rank, reason}
//                       whenever a member is lost or a joiner waits
//              peer -> UPDATE{epoch, force}   (a step boundary)
//              coord -> ROSTER once every live member has asked: a new
//                       epoch if anything changed (or any member forced
//                       it), else the same roster again
//              peer -> LINK_REPORT{epoch, members, link matrix}  (rank 0,
//                       after measuring the links; version 4)
// From version 4 a ROSTER may end with the link matrix the coordinator
// kept from earlier reports, remapped to the roster's ranks (absent when
// nothing is known); a version-3 peer is sent rosters without it.
// A coordinator that restarts has no state; peers reconnect with
//              peer -> HELLO ... RECONNECT{group, epoch, rank, world size,
//                                          data address, mac_p}
//              coord -> NOTICE (accepted) or ERROR (evicted / unknown)
// and the coordinator rebuilds the group from these reports.
//
// Authentication rides on the existing round trips (transport/auth.h):
// mac_c proves the coordinator knows the token (over both nonces), mac_p
// proves the peer does (over both nonces and the JOIN's fields), and the
// coordinator admits nothing before mac_p verifies.  Without a token (an
// --insecure coordinator, a MERIDIAN_INSECURE=1 peer) MACs are zero and
// unchecked; a coordinator refuses a peer whose auth flag differs from its
// own, so a token is never silently dropped by either side.
//
// The protocol grows by adding message types (heartbeats, leave, epoch
// changes) and by bumping kProtocolVersion when a message's layout changes:
// HELLO carries the range of versions the peer speaks and the coordinator
// picks one, so old and new peers can share a coordinator.  Within a
// version the layout is exact: trailing bytes are malformed.
#ifndef MERIDIAN_RUNTIME_COORDINATOR_PROTOCOL_H_
#define MERIDIAN_RUNTIME_COORDINATOR_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/coordinator/coordinator.h"
#include "transport/auth.h"
#include "transport/framing.h"
#include "transport/socket.h"

namespace meridian::coordinator {

// Version 2 added authentication; version 3 heartbeats, membership changes
// and reconnection (WELCOME gained a field); version 4 link reports and
// the link matrix in ROSTER.  Older than 3 cannot be served.
inline constexpr uint16_t kProtocolVersion = 4;
inline constexpr uint16_t kLinkReportVersion = 4;
inline constexpr uint16_t kMinProtocolVersion = 3;

// Values are on the wire; never renumber.
enum class MsgType : uint8_t {
  kHello = 1,
  kWelcome = 2,
  kJoin = 3,
  kRoster = 4,
  kError = 5,
  kHeartbeat = 6,
  kNotice = 7,
  kUpdate = 8,
  kReconnect = 9,
  kLinkReport = 10,
};

inline constexpr int kMaxWorldSize = 1 << 16;
inline constexpr size_t kMaxHostLength = 255;

// A peer's messages are tiny, so the coordinator accepts little before it
// has to buffer; a roster for kMaxWorldSize peers with long host names needs
// far more, and the peer trusts the coordinator it chose to contact.
inline constexpr transport::FrameLimits kPeerToCoordinatorLimits{0, 64u << 10};
inline constexpr transport::FrameLimits kCoordinatorToPeerLimits{0, 32u << 20};
// A member has proved the token and holds a place in the group, so it may
// send a link report of up to kMaxLinkPairs pairs.
inline constexpr transport::FrameLimits kMemberToCoordinatorLimits{0, 1u << 20};
// Pairs a link matrix may carry (36 bytes each on the wire): a complete
// matrix of 128 peers, about 290 KB in each of their rosters.  Larger
// groups re-probe at every epoch rather than have the coordinator copy
// tens of megabytes into rosters.
inline constexpr size_t kMaxLinkPairs = 8128;

struct HelloMsg {
  uint16_t min_version = kMinProtocolVersion;
  uint16_t max_version = kProtocolVersion;
  bool authenticated = false;  // the peer has a token
  transport::Nonce nonce{};
};
struct WelcomeMsg {
  uint16_t version = kProtocolVersion;
  transport::Nonce nonce{};
  transport::Mac mac{};
  // How often the peer must send HEARTBEAT (0: never).
  uint32_t heartbeat_interval_ms = 0;
};
struct JoinMsg {
  int32_t world_size = 0;
  int32_t requested_rank = -1;
  transport::HostPort data_address;
  transport::Mac mac{};
};
struct RosterMsg {
  Roster roster;
};
// A refusal; the coordinator closes the connection after sending it.
struct ErrorMsg {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
};
struct HeartbeatMsg {
  uint64_t epoch = 0;  // the peer's epoch (0 before it has one)
};
struct NoticeMsg {
  uint64_t epoch = 0;           // the epoch the notice is about
  int32_t pending_joiners = 0;  // peers waiting to be admitted
  int32_t lost_rank = -1;       // a member of `epoch` that was lost, or -1
  // The lost member was evicted (silent: hung, stopped, unreachable), so
  // its data connections may still look open; otherwise its connection
  // closed, which the data plane sees for itself.
  bool evicted = false;
  std::string reason;           // why it was lost
};
struct UpdateMsg {
  uint64_t epoch = 0;
  bool force = false;  // form a new epoch even if nothing changed
};
struct ReconnectMsg {
  uint64_t group_id = 0;
  uint64_t epoch = 0;
  int32_t rank = 0;
  int32_t world_size = 0;
  transport::HostPort data_address;
  transport::Mac mac{};
};
// Rank 0's measurement of the links of `epoch`, sent after every probe
// (also a re-probe on drift).  The pairs' a and b index `members`: the data
// addresses of the epoch's ranks, in rank order.  Addresses, unlike ranks,
// stay with a peer from epoch to epoch, so the coordinator keeps the pairs
// by address and remaps them to the ranks of each later epoch.
struct LinkReportMsg {
  uint64_t epoch = 0;
  std::vector<transport::HostPort> members;
  LinkMatrix links;
};
inline constexpr size_t kMaxReasonLength = 4096;

// Domain separation and roles of the two MACs (transport/auth.h).
inline constexpr char kCoordinatorAuthLabel[] = "meridian coordinator v2";
inline constexpr char kCoordinatorRole[] = "coordinator";
inline constexpr char kPeerRole[] = "peer";
// What mac_p binds besides the nonces: the JOIN's (RECONNECT's) fields as
// sent.
std::vector<uint8_t> JoinAuthContext(const JoinMsg& join);
std::vector<uint8_t> ReconnectAuthContext(const ReconnectMsg& msg);

using ControlMessage =
    std::variant<HelloMsg, WelcomeMsg, JoinMsg, RosterMsg, ErrorMsg,
                 HeartbeatMsg, NoticeMsg, UpdateMsg, ReconnectMsg,
                 LinkReportMsg>;

MsgType TypeOf(const ControlMessage& msg);
const char* MsgTypeName(MsgType type);

std::vector<uint8_t> EncodePayload(const ControlMessage& msg);
// InvalidArgument ("malformed message: ...") for anything that does not
// decode exactly; never reads past `len`.
absl::StatusOr<ControlMessage> DecodePayload(const uint8_t* data, size_t len);

// Header plus payload, ready to write.
std::vector<uint8_t> EncodeFrame(const ControlMessage& msg);

// Blocking helpers for the peer side.
absl::Status WriteMessage(int fd, const ControlMessage& msg,
                          transport::Deadline deadline);
absl::StatusOr<ControlMessage> ReadMessage(int fd,
                                           const transport::FrameLimits& limits,
                                           transport::Deadline deadline);

// Reassembles control messages from a byte stream that arrives in arbitrary
// pieces (the coordinator's non-blocking sockets).  Memory stays bounded by
// the limits: a header is validated before its payload is buffered.
class FrameAssembler {
 public:
  explicit FrameAssembler(const transport::FrameLimits& limits)
      : limits_(limits) {}

  // How many bytes the assembler wants next, once Next() has returned
  // nullopt; reading no more than this keeps the buffer within one frame.
  size_t wanted() const;
  // New limits for the frames after the one being assembled (a peer that
  // became a member may send more).
  void set_limits(const transport::FrameLimits& limits) { limits_ = limits; }
  void Append(const uint8_t* data, size_t len);
  // A complete message, nullopt when more bytes are needed, or the reason
  // the stream is malformed (the connection must then be dropped).
  absl::StatusOr<std::optional<ControlMessage>> Next();

 private:
  transport::FrameLimits limits_;
  std::vector<uint8_t> buf_;
  std::optional<uint32_t> payload_length_;  // set once the header is valid
};

}  // namespace meridian::coordinator

#endif  // MERIDIAN_RUNTIME_COORDINATOR_PROTOCOL_H_
