// An abort travels to peers as text; it carries the status code so that a
// mismatch reported by one rank is mdnInvalidUsage on every rank, and a lost
// peer mdnPeerLost.
#ifndef MERIDIAN_COLLECTIVES_ABORT_REASON_H_
#define MERIDIAN_COLLECTIVES_ABORT_REASON_H_

#include <string>

#include "absl/status/status.h"

namespace meridian::collectives {

// "<code>|<message>"
std::string EncodeAbortReason(const absl::Status& status);
// Unknown or malformed codes become kAborted (the operation was cut).
absl::Status DecodeAbortReason(const std::string& reason);

}  // namespace meridian::collectives

#endif  // MERIDIAN_COLLECTIVES_ABORT_REASON_H_
