// The wire frame: a fixed 48-byte little-endian header, then `length` bytes
// of payload.  Every header is validated (magic, version, type, length
// within limits) before anything is allocated or read for its payload.
#ifndef MERIDIAN_TRANSPORT_FRAMING_H_
#define MERIDIAN_TRANSPORT_FRAMING_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace meridian::transport {

inline constexpr uint32_t kFrameMagic = 0x314E444D;  // "MDN1" on the wire
inline constexpr uint16_t kWireVersion = 1;
inline constexpr size_t kFrameHeaderSize = 48;

enum class FrameType : uint16_t {
  kData = 1,     // a piece of an operation's message
  kAbort = 2,    // payload: UTF-8 reason; aborts operation op_seq
  kHello = 3,    // first frame on a peer-to-peer connection
  kControl = 4,  // coordinator protocol; payload is a control message
};

// 16 bytes describing the operation a data frame belongs to.  Opaque to the
// transport, which only compares them; collectives/ defines the layout.
using OpDescriptor = std::array<uint8_t, 16>;

struct FrameHeader {
  FrameType type = FrameType::kData;
  uint32_t length = 0;   // payload bytes following the header
  uint32_t msg = 0;      // message index within the operation
  uint64_t op_seq = 0;   // operation sequence number
  uint64_t offset = 0;   // byte offset of this payload within the message
  OpDescriptor desc{};   // operation descriptor (data frames)
};

struct FrameLimits {
  uint32_t max_data_payload = 64u << 20;   // data frames
  uint32_t max_control_payload = 1u << 20; // control, hello, abort frames
};

void EncodeFrameHeader(const FrameHeader& h, uint8_t out[kFrameHeaderSize]);

// Rejects a bad magic, version, type or a length beyond the limits with
// InvalidArgument ("malformed frame: ...").
absl::StatusOr<FrameHeader> DecodeFrameHeader(const uint8_t in[kFrameHeaderSize],
                                              const FrameLimits& limits);

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_FRAMING_H_
