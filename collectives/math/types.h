// Element types and reduction operations, with the same numeric values as
// the C ABI (mdnDataType_t, mdnRedOp_t) and NCCL.  A leaf header: usable
// from host code and from CUDA device code.
#ifndef MERIDIAN_COLLECTIVES_MATH_TYPES_H_
#define MERIDIAN_COLLECTIVES_MATH_TYPES_H_

#include <cstddef>
#include <cstdint>

namespace meridian::math {

enum class DataType : uint8_t {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBfloat16 = 9,
};
inline constexpr int kNumDataTypes = 10;

enum class RedOp : uint8_t {
  kSum = 0,
  kProd = 1,
  kMax = 2,
  kMin = 3,
  kAvg = 4,  // reduced as a sum; the owner of a final value divides once
};
inline constexpr int kNumRedOps = 5;

inline bool IsValid(DataType t) { return static_cast<int>(t) < kNumDataTypes; }
inline bool IsValid(RedOp op) { return static_cast<int>(op) < kNumRedOps; }

// Bytes per element; 0 for an invalid type.
size_t DataTypeSize(DataType t);
// Short names as nccl-tests prints them: "int8", "half", "float", "bfloat16"...
const char* DataTypeName(DataType t);
// "sum", "prod", "max", "min", "avg".
const char* RedOpName(RedOp op);

}  // namespace meridian::math

#endif  // MERIDIAN_COLLECTIVES_MATH_TYPES_H_
