// Propagation macros for absl::Status, in the spirit of NCCLCHECK: every
// internal call returns a status and the first failure travels up unchanged.
#ifndef MERIDIAN_BASE_STATUS_MACROS_H_
#define MERIDIAN_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MDN_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status mdn_status_ = (expr);           \
    if (!mdn_status_.ok()) return mdn_status_;     \
  } while (0)

#define MDN_CONCAT_INNER_(a, b) a##b
#define MDN_CONCAT_(a, b) MDN_CONCAT_INNER_(a, b)

#define MDN_ASSIGN_OR_RETURN(lhs, expr) \
  MDN_ASSIGN_OR_RETURN_IMPL_(MDN_CONCAT_(mdn_statusor_, __LINE__), lhs, expr)

#define MDN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#endif  // MERIDIAN_BASE_STATUS_MACROS_H_
