// The HELLO exchange that opens every peer-to-peer data connection, three
// kHello frames:
//   dialer   -> Hello{group, epoch, ranks, connection index, K, auth, nonce_d}
//   acceptor -> HelloReply{verdict, reason, nonce_a, mac_a}  (refusal: close)
//   dialer   -> HelloConfirm{mac_d}
// mac_a and mac_d prove knowledge of the shared token (transport/auth.h)
// over both nonces and the hello's fields; the acceptor uses the connection
// only after mac_d verifies, the dialer only after mac_a verifies.  Without
// a token (insecure mode) the MACs are zero and unchecked, and each side
// refuses a peer whose auth flag differs from its own, so a token is never
// silently dropped.  Kept apart from the mesh logic so that tests and tools
// can speak the protocol from a raw socket.
#ifndef MERIDIAN_TRANSPORT_TCP_TCP_HANDSHAKE_H_
#define MERIDIAN_TRANSPORT_TCP_TCP_HANDSHAKE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/auth.h"
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
  bool authenticated = false;  // the dialer has a token
  Nonce nonce{};
};

struct HelloReply {
  bool accepted = false;
  // A refusal because of the token (missing on one side, or not known):
  // the dialer reports it as PermissionDenied, not as a mismatch.
  bool auth_refused = false;
  std::string reason;  // why the connection was refused
  Nonce nonce{};
  Mac mac{};
};

struct HelloConfirm {
  Mac mac{};
};

// Domain separation for the MACs of this handshake; the roles say who
// computed a MAC.
inline constexpr char kMeshAuthLabel[] = "meridian tcp hello v1";
inline constexpr char kMeshDialerRole[] = "dialer";
inline constexpr char kMeshAcceptorRole[] = "acceptor";

// Handshake frames are small; a stray peer must not make us allocate much
// before it has said who it is.
inline constexpr FrameLimits kHandshakeLimits = {0, 4096};

// Whole frames (header and payload), ready to write.
std::vector<uint8_t> EncodeHelloFrame(const Hello& hello);
std::vector<uint8_t> EncodeHelloReplyFrame(const HelloReply& reply);
std::vector<uint8_t> EncodeHelloConfirmFrame(const HelloConfirm& confirm);

absl::StatusOr<Hello> DecodeHello(const std::vector<uint8_t>& payload);
absl::StatusOr<HelloReply> DecodeHelloReply(
    const std::vector<uint8_t>& payload);
absl::StatusOr<HelloConfirm> DecodeHelloConfirm(
    const std::vector<uint8_t>& payload);

// What both MACs bind besides the nonces: the hello's identity fields
// (group, epoch, ranks, connection index, K, auth flag).
std::vector<uint8_t> HelloAuthContext(const Hello& hello);

// Returns the empty string when rank spec.rank should accept `hello`,
// otherwise the reason it refuses, phrased for the dialing peer's error.
// Checks the auth flag against spec.auth_token first (`*auth` set then).
std::string CheckHello(const Hello& hello, const MeshSpec& spec,
                       bool* auth = nullptr);

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
