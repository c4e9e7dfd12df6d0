// Shared-token authentication: the one place that touches the token and
// OpenSSL.  Both handshakes (peer<->coordinator in runtime/coordinator and
// peer<->peer in transport/tcp) prove knowledge of the token the same way:
// each side sends a fresh random nonce and answers with
//   HMAC-SHA256(token, label | role | own nonce | peer nonce | context)
// where `context` binds the identity fields of the hello.  Fresh nonces on
// both sides make a recorded transcript worthless on a new connection; the
// role string keeps one side's answer from being reflected as the other's.
// See docs/security.md.
#ifndef MERIDIAN_TRANSPORT_AUTH_H_
#define MERIDIAN_TRANSPORT_AUTH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace meridian::transport {

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;
using Nonce = std::array<uint8_t, kNonceBytes>;
using Mac = std::array<uint8_t, kMacBytes>;

// The token configured in MERIDIAN_AUTH_TOKEN, else in the file named by
// MERIDIAN_AUTH_TOKEN_FILE (trailing newline removed); nullopt when
// neither is set.  An empty token or unreadable file is an InvalidArgument
// error; a file others may read is used, with a warning.
absl::StatusOr<std::optional<std::string>> ConfiguredAuthToken();

// MERIDIAN_INSECURE=1: the explicit consent to run without a token.
bool InsecureAllowed();

// The token a library peer or an in-process coordinator uses: the
// configured one, or "" (unauthenticated) when none is configured and
// MERIDIAN_INSECURE=1.  Otherwise FailedPrecondition saying how to set one.
absl::StatusOr<std::string> ResolveAuthToken();

// Cryptographically random bytes (RAND_bytes).  Aborts the process if the
// system's random source fails: no handshake may proceed without nonces.
Nonce NewNonce();
// A token for meridian-run's children: `bytes` random bytes in hex.
std::string RandomTokenHex(size_t bytes);

// HMAC-SHA256 of `data` under `key`; exposed for the known-answer test.
Mac HmacSha256(std::string_view key, const uint8_t* data, size_t len);

// The proof one side sends.  `label` names the protocol, `role` the side
// that computes it; both are length-prefixed so no two inputs collide.
Mac HandshakeMac(std::string_view token, std::string_view label,
                 std::string_view role, const Nonce& own, const Nonce& peer,
                 const std::vector<uint8_t>& context);

// Constant time (CRYPTO_memcmp), so the comparison leaks nothing about how
// much of a forged MAC was right.
bool MacEquals(const Mac& a, const Mac& b);

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_AUTH_H_
