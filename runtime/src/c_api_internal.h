// What the files that implement the C API share: the handle types behind
// the opaque pointers of meridian.h and the error-reporting helpers.
#ifndef MERIDIAN_RUNTIME_SRC_C_API_INTERNAL_H_
#define MERIDIAN_RUNTIME_SRC_C_API_INTERNAL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "meridian.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/src/communicator.h"
#include "runtime/src/request.h"

struct mdnComm {
  std::unique_ptr<meridian::runtime::Communicator> impl;
};

struct mdnRequest {
  std::shared_ptr<meridian::runtime::Request> impl;
  mdnComm* comm;
};

struct mdnCoordinator {
  std::unique_ptr<meridian::coordinator::Coordinator> impl;
};

namespace meridian::runtime::capi {

// Records the message (thread's last error, and comm's when given) and
// maps the status to a result code.
mdnResult_t Fail(const absl::Status& status, mdnComm* comm = nullptr);
mdnResult_t InvalidArg(const std::string& msg, mdnComm* comm = nullptr);

}  // namespace meridian::runtime::capi

#endif  // MERIDIAN_RUNTIME_SRC_C_API_INTERNAL_H_
