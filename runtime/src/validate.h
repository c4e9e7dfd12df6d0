// Argument checks of the collective calls, done before anything is queued
// or sent: a bad call fails on its own rank, at once, with a message that
// says which argument is wrong.
#ifndef MERIDIAN_RUNTIME_SRC_VALIDATE_H_
#define MERIDIAN_RUNTIME_SRC_VALIDATE_H_

#include "absl/status/statusor.h"
#include "runtime/src/request.h"

namespace meridian::runtime {

// Checks dtype, op, root, null buffers, size overflow and partial overlap,
// and works out whether the call is in place.  Returns the queued form.
absl::StatusOr<OpArgs> ValidateOp(int rank, int world_size,
                                  const collectives::OpSpec& spec,
                                  const void* sendbuf, void* recvbuf);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_VALIDATE_H_
