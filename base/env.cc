#include "base/env.h"

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace meridian {

std::optional<std::string> GetEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

absl::StatusOr<int64_t> GetEnvInt(const char* name, int64_t fallback) {
  std::optional<std::string> v = GetEnv(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(v->c_str(), &end, 10);
  if (errno != 0 || end == v->c_str() || *end != '\0') {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "='", *v, "' is not an integer"));
  }
  return static_cast<int64_t>(parsed);
}

namespace internal {
int64_t ReadParam(const char* name, int64_t default_value) {
  absl::StatusOr<int64_t> v = GetEnvInt(name, default_value);
  if (!v.ok()) {
    MDN_LOG(Warn) << v.status().message() << "; using default " << default_value;
    return default_value;
  }
  return *v;
}
}  // namespace internal

}  // namespace meridian
