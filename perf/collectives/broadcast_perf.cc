// broadcast_perf: nccl-tests-style benchmark of mdnBroadcast.
#include "meridian.h"
#include "perf/common/driver.h"

namespace {

mdnResult_t Launch(mdnComm_t comm, const meridian::perf::CollArgs& a,
                   mdnRequest_t* request_p) {
  return request_p ? mdnBroadcastAsync(comm, a.sendbuf, a.recvbuf, a.count,
                                       a.type, a.root, request_p)
                   : mdnBroadcast(comm, a.sendbuf, a.recvbuf, a.count, a.type,
                                  a.root);
}

}  // namespace

int main(int argc, char** argv) {
  return meridian::perf::RunBenchmark(meridian::perf::Collective::kBroadcast,
                                      Launch, argc, argv);
}
