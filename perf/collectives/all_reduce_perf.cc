// all_reduce_perf: nccl-tests-style benchmark of mdnAllReduce.
#include "meridian.h"
#include "perf/common/driver.h"

namespace {

mdnResult_t Launch(mdnComm_t comm, const meridian::perf::CollArgs& a,
                   mdnRequest_t* request_p) {
  return request_p
             ? mdnAllReduceAsync(comm, a.sendbuf, a.recvbuf, a.count, a.type,
                                 a.op, request_p)
             : mdnAllReduce(comm, a.sendbuf, a.recvbuf, a.count, a.type, a.op);
}

}  // namespace

int main(int argc, char** argv) {
  return meridian::perf::RunBenchmark(meridian::perf::Collective::kAllReduce,
                                      Launch, argc, argv);
}
