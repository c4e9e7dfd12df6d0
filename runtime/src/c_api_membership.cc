// The C API of membership changes: step boundaries, the pending-joiner
// query and the retry helper.
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "meridian.h"
#include "runtime/src/c_api_internal.h"

using meridian::runtime::capi::Fail;
using meridian::runtime::capi::InvalidArg;

extern "C" {

mdnResult_t mdnCommUpdate(mdnComm_t comm) {
  if (comm == nullptr) return InvalidArg("mdnCommUpdate: comm is NULL");
  absl::Status st = comm->impl->Update();
  return st.ok() ? mdnSuccess : Fail(st, comm);
}

mdnResult_t mdnCommPendingJoiners(mdnComm_t comm, int* count_p) {
  if (comm == nullptr || count_p == nullptr) {
    return InvalidArg("mdnCommPendingJoiners: NULL argument", comm);
  }
  // Ranks hear of joiners at slightly different times; the maximum over
  // the group is one answer they all share, so they all decide alike.
  int32_t local = comm->impl->local_pending_joiners();
  int32_t agreed = 0;
  mdnResult_t rc = mdnAllReduce(comm, &local, &agreed, 1, mdnInt32, mdnMax);
  if (rc != mdnSuccess) return rc;
  *count_p = agreed;
  return mdnSuccess;
}

mdnResult_t mdnRetry(mdnComm_t comm, int min_world_size, int max_attempts,
                     mdnRetryFn_t fn, void* user) {
  if (comm == nullptr || fn == nullptr) return InvalidArg("mdnRetry: NULL argument", comm);
  if (min_world_size < 1) {
    return InvalidArg(absl::StrCat("mdnRetry: min_world_size ", min_world_size, " < 1"), comm);
  }
  for (int failures = 0;;) {
    mdnResult_t rc = fn(comm, user);
    if (rc != mdnPeerLost && rc != mdnTimeout) return rc;
    ++failures;
    if (max_attempts > 0 && failures >= max_attempts) return rc;
    // Re-form now rather than inside fn's first call, so the size check
    // below sees the group fn will run on.  A peer lost while re-forming
    // is one more failure, retried the same way.
    rc = mdnCommUpdate(comm);
    if (rc != mdnSuccess && rc != mdnPeerLost && rc != mdnTimeout) return rc;
    if (rc != mdnSuccess) continue;
    const int size = comm->impl->size();
    if (size < min_world_size) {
      return Fail(absl::AbortedError(absl::StrCat(
                      "mdnRetry: the group shrank to ", size, " member(s), fewer than ",
                      "min_world_size ", min_world_size, "; last error: ",
                      comm->impl->LastError())),
                  comm);
    }
  }
}

}  // extern "C"
