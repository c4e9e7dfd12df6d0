// The coordinator wire protocol.  Every message travels in one
// FrameType::kControl frame; its payload starts with a MsgType byte, then
// the message's fields (ByteWriter encoding, little-endian).
//
// A session:   peer -> HELLO{min,max version}
//              coord -> WELCOME{version}      or ERROR, then close
//              peer -> JOIN{world size, rank, data address}
//              coord -> ROSTER                or ERROR, then close
// The connection then stays open; its close is the peer leaving.
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
#include "transport/framing.h"
#include "transport/socket.h"

namespace meridian::coordinator {

inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr uint16_t kMinProtocolVersion = 1;

// Values are on the wire; never renumber.
enum class MsgType : uint8_t {
  kHello = 1,
  kWelcome = 2,
  kJoin = 3,
  kRoster = 4,
  kError = 5,
};

inline constexpr int kMaxWorldSize = 1 << 16;
inline constexpr size_t kMaxHostLength = 255;

// A peer's messages are tiny, so the coordinator accepts little before it
// has to buffer; a roster for kMaxWorldSize peers with long host names needs
// far more, and the peer trusts the coordinator it chose to contact.
inline constexpr transport::FrameLimits kPeerToCoordinatorLimits{0, 64u << 10};
inline constexpr transport::FrameLimits kCoordinatorToPeerLimits{0, 32u << 20};

struct HelloMsg {
  uint16_t min_version = kMinProtocolVersion;
  uint16_t max_version = kProtocolVersion;
};
struct WelcomeMsg {
  uint16_t version = kProtocolVersion;
};
struct JoinMsg {
  int32_t world_size = 0;
  int32_t requested_rank = -1;
  transport::HostPort data_address;
};
struct RosterMsg {
  Roster roster;
};
// A refusal; the coordinator closes the connection after sending it.
struct ErrorMsg {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
};

using ControlMessage =
    std::variant<HelloMsg, WelcomeMsg, JoinMsg, RosterMsg, ErrorMsg>;

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
