// reduce_perf: nccl-tests-style benchmark of mdnReduce.
#include "meridian.h"
#include "perf/common/driver.h"

namespace {

mdnResult_t Launch(mdnComm_t comm, const meridian::perf::CollArgs& a,
                   mdnRequest_t* request_p) {
  return request_p ? mdnReduceAsync(comm, a.sendbuf, a.recvbuf, a.count, a.type,
                                    a.op, a.root, request_p)
                   : mdnReduce(comm, a.sendbuf, a.recvbuf, a.count, a.type,
                               a.op, a.root);
}

}  // namespace

int main(int argc, char** argv) {
  return meridian::perf::RunBenchmark(meridian::perf::Collective::kReduce,
                                      Launch, argc, argv);
}
