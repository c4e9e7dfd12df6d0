#include "runtime/src/errors.h"

namespace meridian::runtime {
namespace {
thread_local std::string t_last_error;
}  // namespace

mdnResult_t ToResult(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk: return mdnSuccess;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return mdnInvalidArgument;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    // A wrong or missing auth token is a configuration the caller must fix,
    // not a fault to retry; the last-error string says which side refused.
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated: return mdnInvalidUsage;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled: return mdnPeerLost;
    case absl::StatusCode::kDeadlineExceeded: return mdnTimeout;
    case absl::StatusCode::kUnavailable: return mdnUnavailable;
    case absl::StatusCode::kDataLoss: return mdnRemoteError;
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kResourceExhausted: return mdnSystemError;
    default: return mdnInternalError;
  }
}

void SetThreadError(const std::string& message) { t_last_error = message; }
const char* ThreadError() { return t_last_error.c_str(); }

}  // namespace meridian::runtime
