// The C boundary of error handling: absl::Status inside, mdnResult_t plus a
// last-error string outside.
#ifndef MERIDIAN_RUNTIME_SRC_ERRORS_H_
#define MERIDIAN_RUNTIME_SRC_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "meridian.h"

namespace meridian::runtime {

// kInvalidArgument -> mdnInvalidArgument, kFailedPrecondition ->
// mdnInvalidUsage, kAborted -> mdnPeerLost, kDeadlineExceeded -> mdnTimeout,
// kUnavailable -> mdnUnavailable, kDataLoss -> mdnRemoteError, kUnknown and
// kResourceExhausted -> mdnSystemError, anything else -> mdnInternalError.
mdnResult_t ToResult(const absl::Status& status);

// Thread-local message for failures that have no communicator.
void SetThreadError(const std::string& message);
const char* ThreadError();

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_ERRORS_H_
