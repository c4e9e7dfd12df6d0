// The exported C functions: argument checks, Status -> mdnResult_t, and the
// last-error strings.  Nothing here blocks except mdnCommCreate, the
// blocking collectives and mdnWait.
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "collectives/math/types.h"
#include "meridian.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/src/comm_options.h"
#include "runtime/src/c_api_internal.h"
#include "runtime/src/communicator.h"
#include "runtime/src/errors.h"
#include "runtime/src/validate.h"
#include "transport/auth.h"

using meridian::runtime::Communicator;
using meridian::runtime::Request;
using meridian::runtime::SetThreadError;
using meridian::runtime::ToResult;
namespace planner = meridian::planner;
namespace math = meridian::math;

namespace meridian::runtime::capi {

mdnResult_t Fail(const absl::Status& status, mdnComm* comm) {
  std::string msg(status.message());
  SetThreadError(msg);
  if (comm != nullptr) comm->impl->SetLastError(msg);
  return ToResult(status);
}

mdnResult_t InvalidArg(const std::string& msg, mdnComm* comm) {
  return Fail(absl::InvalidArgumentError(msg), comm);
}

}  // namespace meridian::runtime::capi

using meridian::runtime::capi::Fail;
using meridian::runtime::capi::InvalidArg;

namespace {

// Validates and queues; *request_p receives the handle.
mdnResult_t Enqueue(mdnComm* comm, const meridian::collectives::OpSpec& spec,
                    const void* sendbuf, void* recvbuf, mdnRequest_t* request_p) {
  if (comm == nullptr) {
    return InvalidArg(absl::StrCat(planner::CollectiveName(spec.collective), ": comm is NULL"));
  }
  if (request_p == nullptr) return InvalidArg("request_p is NULL", comm);
  // Re-forms first if an earlier failure asked for it, so the call is
  // checked against (and runs on) the group it will really run on.
  if (absl::Status ready = comm->impl->PrepareForCall(); !ready.ok()) {
    return Fail(ready, comm);
  }
  auto args = meridian::runtime::ValidateOp(comm->impl->rank(), comm->impl->size(), spec,
                                            sendbuf, recvbuf);
  if (!args.ok()) return Fail(args.status(), comm);
  auto* req = new mdnRequest{comm->impl->Submit(*args), comm};
  *request_p = req;
  return mdnSuccess;
}

mdnResult_t RunBlocking(mdnComm* comm, const meridian::collectives::OpSpec& spec,
                        const void* sendbuf, void* recvbuf) {
  mdnRequest_t req = nullptr;
  mdnResult_t rc = Enqueue(comm, spec, sendbuf, recvbuf, &req);
  if (rc != mdnSuccess) return rc;
  return mdnWait(&req);
}

meridian::collectives::OpSpec Spec(planner::Collective c, size_t count, mdnDataType_t dtype,
                                   mdnRedOp_t op, int root) {
  meridian::collectives::OpSpec s;
  s.collective = c;
  s.count = count;
  // Out-of-range values are kept (uint8 cast of a huge int aside) so that
  // validation can name them.
  s.dtype = static_cast<math::DataType>(
      (static_cast<int>(dtype) < 0 || static_cast<int>(dtype) > 255) ? 255 : dtype);
  s.op = static_cast<math::RedOp>(
      (static_cast<int>(op) < 0 || static_cast<int>(op) > 255) ? 255 : op);
  s.root = root;
  return s;
}

}  // namespace

extern "C" {

int mdnGetVersion(void) { return MDN_VERSION_CODE; }

const char* mdnGetVersionString(void) {
#define MDN_STR2(x) #x
#define MDN_STR(x) MDN_STR2(x)
  return MDN_STR(MDN_VERSION_MAJOR) "." MDN_STR(MDN_VERSION_MINOR) "." MDN_STR(MDN_VERSION_PATCH);
}

const char* mdnGetErrorString(mdnResult_t result) {
  switch (result) {
    case mdnSuccess: return "success";
    case mdnSystemError: return "system error";
    case mdnInternalError: return "internal error";
    case mdnInvalidArgument: return "invalid argument";
    case mdnInvalidUsage: return "invalid usage";
    case mdnRemoteError: return "remote error";
    case mdnInProgress: return "in progress";
    case mdnPeerLost: return "peer lost";
    case mdnTimeout: return "timeout";
    case mdnUnavailable: return "unavailable";
  }
  return "unknown result code";
}

const char* mdnGetLastError(void) { return meridian::runtime::ThreadError(); }

size_t mdnDataTypeSize(mdnDataType_t datatype) {
  if (static_cast<int>(datatype) < 0 || static_cast<int>(datatype) >= mdnNumDataTypes) return 0;
  return math::DataTypeSize(static_cast<math::DataType>(datatype));
}

mdnResult_t mdnCoordinatorCreate(const char* listen_address, mdnCoordinator_t* coordinator_p) {
  if (listen_address == nullptr) return InvalidArg("mdnCoordinatorCreate: listen_address is NULL");
  if (coordinator_p == nullptr) return InvalidArg("mdnCoordinatorCreate: coordinator_p is NULL");
  // The same token rule as a peer's: the environment's token, or none only
  // with MERIDIAN_INSECURE=1.
  auto token = meridian::transport::ResolveAuthToken();
  if (!token.ok()) {
    return Fail(absl::Status(
        token.status().code(),
        absl::StrCat("mdnCoordinatorCreate: ", token.status().message())));
  }
  auto coord = meridian::coordinator::Coordinator::Start(listen_address, *token);
  if (!coord.ok()) return Fail(coord.status());
  *coordinator_p = new mdnCoordinator{std::move(*coord)};
  return mdnSuccess;
}

mdnResult_t mdnCoordinatorGetAddress(mdnCoordinator_t coordinator, char* buf, size_t buf_len) {
  if (coordinator == nullptr || buf == nullptr) {
    return InvalidArg("mdnCoordinatorGetAddress: NULL argument");
  }
  std::string addr = coordinator->impl->address();
  if (addr.size() + 1 > buf_len) {
    return InvalidArg(absl::StrCat("mdnCoordinatorGetAddress: buffer of ", buf_len,
                                   " bytes is too small, need ", addr.size() + 1));
  }
  memcpy(buf, addr.c_str(), addr.size() + 1);
  return mdnSuccess;
}

mdnResult_t mdnCoordinatorDestroy(mdnCoordinator_t coordinator) {
  delete coordinator;
  return mdnSuccess;
}

mdnResult_t mdnCommConfigInit(mdnCommConfig_t* config) {
  if (config == nullptr) return InvalidArg("mdnCommConfigInit: config is NULL");
  memset(config, 0, sizeof(*config));
  config->struct_size = sizeof(*config);
  config->version = MDN_COMM_CONFIG_VERSION;
  config->rank = -1;
  return mdnSuccess;
}

mdnResult_t mdnCommCreate(const mdnCommConfig_t* config, mdnComm_t* comm_p) {
  if (comm_p == nullptr) return InvalidArg("mdnCommCreate: comm_p is NULL");
  auto options = meridian::runtime::ResolveCommOptions(config);
  if (!options.ok()) return Fail(options.status());
  auto comm = Communicator::Create(*options);
  if (!comm.ok()) return Fail(comm.status());
  *comm_p = new mdnComm{std::move(*comm)};
  return mdnSuccess;
}

mdnResult_t mdnCommDestroy(mdnComm_t comm) {
  delete comm;
  return mdnSuccess;
}

mdnResult_t mdnCommRank(mdnComm_t comm, int* rank_p) {
  if (comm == nullptr || rank_p == nullptr) return InvalidArg("mdnCommRank: NULL argument");
  *rank_p = comm->impl->rank();
  return mdnSuccess;
}

mdnResult_t mdnCommSize(mdnComm_t comm, int* size_p) {
  if (comm == nullptr || size_p == nullptr) return InvalidArg("mdnCommSize: NULL argument");
  *size_p = comm->impl->size();
  return mdnSuccess;
}

mdnResult_t mdnCommEpoch(mdnComm_t comm, uint64_t* epoch_p) {
  if (comm == nullptr || epoch_p == nullptr) return InvalidArg("mdnCommEpoch: NULL argument");
  *epoch_p = comm->impl->epoch();
  return mdnSuccess;
}

mdnResult_t mdnCommConnectionsPerPeer(mdnComm_t comm, int* count_p) {
  if (comm == nullptr || count_p == nullptr) {
    return InvalidArg("mdnCommConnectionsPerPeer: NULL argument");
  }
  *count_p = comm->impl->connections_per_peer();
  return mdnSuccess;
}

const char* mdnCommGetLastError(mdnComm_t comm) {
  if (comm == nullptr) return "";
  // Copied per thread: another thread's failure must not change the text
  // under the caller's pointer.
  static thread_local std::string copy;
  copy = comm->impl->LastError();
  return copy.c_str();
}

mdnResult_t mdnAllReduce(mdnComm_t comm, const void* sendbuf, void* recvbuf, size_t count,
                         mdnDataType_t datatype, mdnRedOp_t op) {
  return RunBlocking(comm, Spec(planner::Collective::kAllReduce, count, datatype, op, 0),
                     sendbuf, recvbuf);
}
mdnResult_t mdnAllReduceAsync(mdnComm_t comm, const void* sendbuf, void* recvbuf, size_t count,
                              mdnDataType_t datatype, mdnRedOp_t op, mdnRequest_t* request_p) {
  return Enqueue(comm, Spec(planner::Collective::kAllReduce, count, datatype, op, 0), sendbuf,
                 recvbuf, request_p);
}

mdnResult_t mdnBroadcast(mdnComm_t comm, const void* sendbuf, void* recvbuf, size_t count,
                         mdnDataType_t datatype, int root) {
  return RunBlocking(comm, Spec(planner::Collective::kBroadcast, count, datatype, mdnSum, root),
                     sendbuf, recvbuf);
}
mdnResult_t mdnBroadcastAsync(mdnComm_t comm, const void* sendbuf, void* recvbuf, size_t count,
                              mdnDataType_t datatype, int root, mdnRequest_t* request_p) {
  return Enqueue(comm, Spec(planner::Collective::kBroadcast, count, datatype, mdnSum, root),
                 sendbuf, recvbuf, request_p);
}

mdnResult_t mdnReduce(mdnComm_t comm, const void* sendbuf, void* recvbuf, size_t count,
                      mdnDataType_t datatype, mdnRedOp_t op, int root) {
  return RunBlocking(comm, Spec(planner::Collective::kReduce, count, datatype, op, root),
                     sendbuf, recvbuf);
}
mdnResult_t mdnReduceAsync(mdnComm_t comm, const void* sendbuf, void* recvbuf, size_t count,
                           mdnDataType_t datatype, mdnRedOp_t op, int root,
                           mdnRequest_t* request_p) {
  return Enqueue(comm, Spec(planner::Collective::kReduce, count, datatype, op, root), sendbuf,
                 recvbuf, request_p);
}

mdnResult_t mdnAllGather(mdnComm_t comm, const void* sendbuf, void* recvbuf, size_t sendcount,
                         mdnDataType_t datatype) {
  return RunBlocking(comm, Spec(planner::Collective::kAllGather, sendcount, datatype, mdnSum, 0),
                     sendbuf, recvbuf);
}
mdnResult_t mdnAllGatherAsync(mdnComm_t comm, const void* sendbuf, void* recvbuf,
                              size_t sendcount, mdnDataType_t datatype, mdnRequest_t* request_p) {
  return Enqueue(comm, Spec(planner::Collective::kAllGather, sendcount, datatype, mdnSum, 0),
                 sendbuf, recvbuf, request_p);
}

mdnResult_t mdnReduceScatter(mdnComm_t comm, const void* sendbuf, void* recvbuf,
                             size_t recvcount, mdnDataType_t datatype, mdnRedOp_t op) {
  return RunBlocking(comm, Spec(planner::Collective::kReduceScatter, recvcount, datatype, op, 0),
                     sendbuf, recvbuf);
}
mdnResult_t mdnReduceScatterAsync(mdnComm_t comm, const void* sendbuf, void* recvbuf,
                                  size_t recvcount, mdnDataType_t datatype, mdnRedOp_t op,
                                  mdnRequest_t* request_p) {
  return Enqueue(comm, Spec(planner::Collective::kReduceScatter, recvcount, datatype, op, 0),
                 sendbuf, recvbuf, request_p);
}

mdnResult_t mdnBarrier(mdnComm_t comm) {
  return RunBlocking(comm, Spec(planner::Collective::kBarrier, 1, mdnUint8, mdnSum, 0),
                     nullptr, nullptr);
}
mdnResult_t mdnBarrierAsync(mdnComm_t comm, mdnRequest_t* request_p) {
  return Enqueue(comm, Spec(planner::Collective::kBarrier, 1, mdnUint8, mdnSum, 0), nullptr,
                 nullptr, request_p);
}

mdnResult_t mdnTest(mdnRequest_t* request_p, int* done_p) {
  if (request_p == nullptr || *request_p == nullptr || done_p == nullptr) {
    return InvalidArg("mdnTest: NULL argument");
  }
  mdnRequest* req = *request_p;
  if (!req->impl->IsDone()) {
    *done_p = 0;
    return mdnSuccess;
  }
  *done_p = 1;
  absl::Status status = req->impl->status();
  mdnComm* comm = req->comm;
  delete req;
  *request_p = nullptr;
  return status.ok() ? mdnSuccess : Fail(status, comm);
}

mdnResult_t mdnWait(mdnRequest_t* request_p) {
  if (request_p == nullptr || *request_p == nullptr) return InvalidArg("mdnWait: NULL argument");
  mdnRequest* req = *request_p;
  absl::Status status = req->impl->Wait();
  mdnComm* comm = req->comm;
  delete req;
  *request_p = nullptr;
  return status.ok() ? mdnSuccess : Fail(status, comm);
}

}  // extern "C"
