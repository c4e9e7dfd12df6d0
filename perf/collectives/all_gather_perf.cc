// all_gather_perf: nccl-tests-style benchmark of mdnAllGather.
#include "meridian.h"
#include "perf/common/driver.h"

namespace {

mdnResult_t Launch(mdnComm_t comm, const meridian::perf::CollArgs& a,
                   mdnRequest_t* request_p) {
  return request_p ? mdnAllGatherAsync(comm, a.sendbuf, a.recvbuf, a.count,
                                       a.type, request_p)
                   : mdnAllGather(comm, a.sendbuf, a.recvbuf, a.count, a.type);
}

}  // namespace

int main(int argc, char** argv) {
  return meridian::perf::RunBenchmark(meridian::perf::Collective::kAllGather,
                                      Launch, argc, argv);
}
