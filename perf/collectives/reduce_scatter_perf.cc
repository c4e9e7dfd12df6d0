// reduce_scatter_perf: nccl-tests-style benchmark of mdnReduceScatter.
#include "meridian.h"
#include "perf/common/driver.h"

namespace {

mdnResult_t Launch(mdnComm_t comm, const meridian::perf::CollArgs& a,
                   mdnRequest_t* request_p) {
  return request_p ? mdnReduceScatterAsync(comm, a.sendbuf, a.recvbuf, a.count,
                                           a.type, a.op, request_p)
                   : mdnReduceScatter(comm, a.sendbuf, a.recvbuf, a.count,
                                      a.type, a.op);
}

}  // namespace

int main(int argc, char** argv) {
  return meridian::perf::RunBenchmark(
      meridian::perf::Collective::kReduceScatter, Launch, argc, argv);
}
