// The HELLO exchange that opens every peer-to-peer data connection.  The
// dialer sends a kHello frame naming group, epoch, both ranks, the
// connection index and K; the acceptor answers with a kHello reply that
// accepts or says why it refuses (then closes).  Kept apart from the mesh
// logic so that tests and tools can speak the protocol from a raw socket.
#ifndef MERIDIAN_TRANSPORT_TCP_TCP_HANDSHAKE_H_
#define MERIDIAN_TRANSPORT_TCP_TCP_HANDSHAKE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/framing.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::transport {

struct Hello {
  uint64_t group_id = 0;
  uint64_t epoch = 0;
  int32_t from_rank = 0;
  int32_t to_rank = 0;
  uint32_t conn_index = 0;
  uint32_t num_connections = 0;
};

struct HelloReply {
  bool accepted = false;
  std::string reason;  // why the connection was refused
};

// Handshake frames are small; a stray peer must not make us allocate much
// before it has said who it is.
inline constexpr FrameLimits kHandshakeLimits = {0, 4096};

// Whole frames (header and payload), ready to write.
std::vector<uint8_t> EncodeHelloFrame(const Hello& hello);
std::vector<uint8_t> EncodeHelloReplyFrame(const HelloReply& reply);

absl::StatusOr<Hello> DecodeHello(const std::vector<uint8_t>& payload);
absl::StatusOr<HelloReply> DecodeHelloReply(
    const std::vector<uint8_t>& payload);

// Returns the empty string when rank spec.rank should accept `hello`,
// otherwise the reason it refuses, phrased for the dialing peer's error.
std::string CheckHello(const Hello& hello, const MeshSpec& spec);

// Reads exactly one frame from a non-blocking socket over as many calls as
// it takes, never consuming a byte past it (data frames may follow).
class FrameReader {
 public:
  // OK with done() false: would block, call again when readable.  Errors:
  // Unavailable (closed or reset), InvalidArgument (malformed header).
  absl::Status Read(int fd, const FrameLimits& limits);
  bool done() const { return done_; }
  const FrameHeader& header() const { return header_; }
  const std::vector<uint8_t>& payload() const { return payload_; }

 private:
  uint8_t hdr_[kFrameHeaderSize];
  size_t hdr_have_ = 0;
  bool header_ok_ = false;
  FrameHeader header_;
  std::vector<uint8_t> payload_;
  size_t payload_have_ = 0;
  bool done_ = false;
};

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_TCP_TCP_HANDSHAKE_H_
