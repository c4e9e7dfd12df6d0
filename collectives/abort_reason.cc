#include "collectives/abort_reason.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace meridian::collectives {

std::string EncodeAbortReason(const absl::Status& status) {
  return absl::StrCat(static_cast<int>(status.code()), "|", status.message());
}

absl::Status DecodeAbortReason(const std::string& reason) {
  size_t bar = reason.find('|');
  int code = 0;
  if (bar == std::string::npos || !absl::SimpleAtoi(reason.substr(0, bar), &code) ||
      code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::AbortedError(absl::StrCat("operation aborted by a peer: ", reason));
  }
  return absl::Status(static_cast<absl::StatusCode>(code), reason.substr(bar + 1));
}

}  // namespace meridian::collectives
