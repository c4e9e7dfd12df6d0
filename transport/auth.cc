#include "transport/auth.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/log.h"
#include "transport/wire.h"

namespace meridian::transport {

namespace {

constexpr char kHowToSetToken[] =
    "set MERIDIAN_AUTH_TOKEN (or MERIDIAN_AUTH_TOKEN_FILE) to the same secret "
    "on the coordinator and every peer";

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MERIDIAN_AUTH_TOKEN_FILE: cannot read '", path, "'"));
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    // Warn rather than refuse: a shared cluster file system may not keep
    // modes, and refusing would break runs that are otherwise sound.
    MDN_LOG(Warn) << "auth token file '" << path
                  << "' is readable by group or others; chmod 600 it";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) {
    token.pop_back();
  }
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MERIDIAN_AUTH_TOKEN_FILE: '", path, "' holds an empty token"));
  }
  return token;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ConfiguredAuthToken() {
  // GetEnv treats an empty value as unset; an explicitly empty token would
  // mean "no secret", which must not pass for one.
  const char* raw = std::getenv("MERIDIAN_AUTH_TOKEN");
  if (raw != nullptr) {
    if (raw[0] == '\0') {
      return absl::InvalidArgumentError(
          "MERIDIAN_AUTH_TOKEN is set but empty; an empty token is refused");
    }
    return std::optional<std::string>(raw);
  }
  if (std::optional<std::string> path = GetEnv("MERIDIAN_AUTH_TOKEN_FILE")) {
    absl::StatusOr<std::string> token = ReadTokenFile(*path);
    if (!token.ok()) return token.status();
    return std::optional<std::string>(*std::move(token));
  }
  return std::optional<std::string>();
}

bool InsecureAllowed() {
  std::optional<std::string> v = GetEnv("MERIDIAN_INSECURE");
  return v && *v == "1";
}

absl::StatusOr<std::string> ResolveAuthToken() {
  absl::StatusOr<std::optional<std::string>> token = ConfiguredAuthToken();
  if (!token.ok()) return token.status();
  if (token->has_value()) return **token;
  if (InsecureAllowed()) return std::string();
  return absl::FailedPreconditionError(absl::StrCat(
      "no authentication token: ", kHowToSetToken,
      " (meridian-run does this for you), or set MERIDIAN_INSECURE=1 to run "
      "unauthenticated on a trusted network"));
}

Nonce NewNonce() {
  Nonce n;
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) {
    std::fprintf(stderr, "meridian: RAND_bytes failed; cannot make a nonce\n");
    std::abort();
  }
  return n;
}

std::string RandomTokenHex(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    std::fprintf(stderr, "meridian: RAND_bytes failed; cannot make a token\n");
    std::abort();
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : raw) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Mac HmacSha256(std::string_view key, const uint8_t* data, size_t len) {
  Mac mac{};
  unsigned int mac_len = 0;
  static const uint8_t kEmpty = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       data != nullptr ? data : &kEmpty, len, mac.data(), &mac_len);
  return mac;
}

Mac HandshakeMac(std::string_view token, std::string_view label,
                 std::string_view role, const Nonce& own, const Nonce& peer,
                 const std::vector<uint8_t>& context) {
  ByteWriter w;
  w.Str(std::string(label));
  w.Str(std::string(role));
  w.Bytes(own.data(), own.size());
  w.Bytes(peer.data(), peer.size());
  w.U32(static_cast<uint32_t>(context.size()));
  w.Bytes(context.data(), context.size());
  return HmacSha256(token, w.data().data(), w.data().size());
}

bool MacEquals(const Mac& a, const Mac& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace meridian::transport
