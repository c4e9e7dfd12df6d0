// mdnSharedStateSync: the C boundary of runtime/src/shared_state.
#include "meridian.h"
#include "runtime/src/c_api_internal.h"
#include "runtime/src/shared_state.h"

extern "C" mdnResult_t mdnSharedStateSync(mdnComm_t comm, mdnSharedTensor_t* tensors,
                                          size_t num_tensors, mdnSyncInfo_t* info_p) {
  using meridian::runtime::capi::Fail;
  using meridian::runtime::capi::InvalidArg;
  if (info_p != nullptr) *info_p = mdnSyncInfo_t{};
  if (comm == nullptr) return InvalidArg("mdnSharedStateSync: comm is NULL");
  // As every call: re-form first if an earlier failure asked for it.
  if (absl::Status ready = comm->impl->PrepareForCall(); !ready.ok()) {
    return Fail(ready, comm);
  }
  absl::Status status =
      meridian::runtime::SyncSharedState(*comm->impl, tensors, num_tensors, info_p);
  if (!status.ok()) {
    if (info_p != nullptr) *info_p = mdnSyncInfo_t{};
    return Fail(status, comm);
  }
  return mdnSuccess;
}
