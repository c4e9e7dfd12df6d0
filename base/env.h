// Configuration from MERIDIAN_* environment variables.  Every tunable is
// declared once with MDN_PARAM so that `grep MDN_PARAM` lists all knobs,
// their variables and defaults (like NCCL_PARAM).
#ifndef MERIDIAN_BASE_ENV_H_
#define MERIDIAN_BASE_ENV_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace meridian {

// Returns the variable's value, or nullopt when unset or empty.
std::optional<std::string> GetEnv(const char* name);

// Parses an integer variable; an unset variable yields `fallback`, a value
// that is not an integer is an InvalidArgument error naming the variable.
absl::StatusOr<int64_t> GetEnvInt(const char* name, int64_t fallback);

}  // namespace meridian

// Declares `int64_t meridian::param::Name()` reading MERIDIAN_<env> once.
// A malformed value falls back to the default with a warning.
#define MDN_PARAM(Name, env, default_value)                              \
  namespace meridian::param {                                            \
  inline int64_t Name() {                                                \
    static const int64_t value =                                         \
        ::meridian::internal::ReadParam("MERIDIAN_" env, default_value); \
    return value;                                                        \
  }                                                                      \
  }

namespace meridian::internal {
int64_t ReadParam(const char* name, int64_t default_value);
}

#endif  // MERIDIAN_BASE_ENV_H_
