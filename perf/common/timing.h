// The timed loop: warmup, barrier, then the iterations under one clock.
#ifndef MERIDIAN_PERF_COMMON_TIMING_H_
#define MERIDIAN_PERF_COMMON_TIMING_H_

#include <cstddef>

#include "meridian.h"

namespace meridian::perf {

// One call's arguments; the tool's LaunchFn maps them onto its collective.
struct CollArgs {
  const void* sendbuf = nullptr;
  void* recvbuf = nullptr;
  size_t count = 0;
  mdnDataType_t type = mdnFloat32;
  mdnRedOp_t op = mdnSum;
  int root = 0;
};

// Issues one operation: blocking when request_p is NULL, else asynchronous
// with the request in *request_p.
using LaunchFn = mdnResult_t (*)(mdnComm_t comm, const CollArgs& args,
                                 mdnRequest_t* request_p);

// Runs warmup_iters operations, a barrier, then iters operations, and
// writes this rank's mean seconds per operation.  Not blocking: all
// iterations are issued asynchronously before the first wait, as nccl-tests
// launches them all on a stream; blocking: each call returns before the
// next.  Returns the first error; requests already issued are waited for.
mdnResult_t TimeCollective(mdnComm_t comm, LaunchFn launch,
                           const CollArgs& args, int warmup_iters, int iters,
                           bool blocking, double* seconds_p);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_TIMING_H_
