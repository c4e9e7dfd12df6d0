#include "perf/common/timing.h"

#include <chrono>
#include <vector>

namespace meridian::perf {
namespace {

mdnResult_t RunIterations(mdnComm_t comm, LaunchFn launch, const CollArgs& args,
                          int iters, bool blocking) {
  if (blocking) {
    for (int i = 0; i < iters; ++i) {
      const mdnResult_t result = launch(comm, args, nullptr);
      if (result != mdnSuccess) return result;
    }
    return mdnSuccess;
  }
  std::vector<mdnRequest_t> requests;
  requests.reserve(iters);
  mdnResult_t first_error = mdnSuccess;
  for (int i = 0; i < iters; ++i) {
    mdnRequest_t request = nullptr;
    first_error = launch(comm, args, &request);
    if (first_error != mdnSuccess) break;
    requests.push_back(request);
  }
  for (mdnRequest_t& request : requests) {
    const mdnResult_t result = mdnWait(&request);
    if (first_error == mdnSuccess) first_error = result;
  }
  return first_error;
}

}  // namespace

mdnResult_t TimeCollective(mdnComm_t comm, LaunchFn launch,
                           const CollArgs& args, int warmup_iters, int iters,
                           bool blocking, double* seconds_p) {
  mdnResult_t result =
      RunIterations(comm, launch, args, warmup_iters, blocking);
  if (result != mdnSuccess) return result;
  result = mdnBarrier(comm);
  if (result != mdnSuccess) return result;
  const auto start = std::chrono::steady_clock::now();
  result = RunIterations(comm, launch, args, iters, blocking);
  const auto stop = std::chrono::steady_clock::now();
  if (result != mdnSuccess) return result;
  *seconds_p = std::chrono::duration<double>(stop - start).count() / iters;
  return mdnSuccess;
}

}  // namespace meridian::perf
