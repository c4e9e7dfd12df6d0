#include "perf/common/datatype.h"

#include <cstdint>

#include "perf/common/float16.h"

namespace meridian::perf {
namespace {

constexpr const char* kTypeNames[mdnNumDataTypes] = {
    "int8",   "uint8", "int32", "uint32", "int64",
    "uint64", "half",  "float", "double", "bfloat16"};
constexpr const char* kOpNames[mdnNumRedOps] = {"sum", "prod", "max", "min",
                                                "avg"};

template <typename T>
T Load(const void* buf, size_t i) {
  return static_cast<const T*>(buf)[i];
}

template <typename T>
void Store(void* buf, size_t i, T value) {
  static_cast<T*>(buf)[i] = value;
}

}  // namespace

const char* DataTypeName(mdnDataType_t type) {
  return type >= 0 && type < mdnNumDataTypes ? kTypeNames[type] : "?";
}

const char* RedOpName(mdnRedOp_t op) {
  return op >= 0 && op < mdnNumRedOps ? kOpNames[op] : "?";
}

bool ParseDataTypes(const std::string& name,
                    std::vector<mdnDataType_t>* types_p) {
  std::vector<mdnDataType_t> types;
  for (int t = 0; t < mdnNumDataTypes; ++t) {
    if (name == "all" || name == kTypeNames[t])
      types.push_back(static_cast<mdnDataType_t>(t));
  }
  if (types.empty()) return false;
  *types_p = types;
  return true;
}

bool ParseRedOps(const std::string& name, std::vector<mdnRedOp_t>* ops_p) {
  std::vector<mdnRedOp_t> ops;
  for (int o = 0; o < mdnNumRedOps; ++o) {
    if (name == "all" || name == kOpNames[o])
      ops.push_back(static_cast<mdnRedOp_t>(o));
  }
  if (ops.empty()) return false;
  *ops_p = ops;
  return true;
}

size_t DataTypeBytes(mdnDataType_t type) {
  switch (type) {
    case mdnInt8:
    case mdnUint8:
      return 1;
    case mdnFloat16:
    case mdnBfloat16:
      return 2;
    case mdnInt32:
    case mdnUint32:
    case mdnFloat32:
      return 4;
    case mdnInt64:
    case mdnUint64:
    case mdnFloat64:
      return 8;
    default:
      return 0;
  }
}

bool IsFloatingPoint(mdnDataType_t type) {
  return type == mdnFloat16 || type == mdnFloat32 || type == mdnFloat64 ||
         type == mdnBfloat16;
}

bool IsSigned(mdnDataType_t type) {
  return type != mdnUint8 && type != mdnUint32 && type != mdnUint64;
}

double LoadElement(const void* buf, size_t i, mdnDataType_t type) {
  switch (type) {
    case mdnInt8:
      return Load<int8_t>(buf, i);
    case mdnUint8:
      return Load<uint8_t>(buf, i);
    case mdnInt32:
      return Load<int32_t>(buf, i);
    case mdnUint32:
      return Load<uint32_t>(buf, i);
    case mdnInt64:
      return static_cast<double>(Load<int64_t>(buf, i));
    case mdnUint64:
      return static_cast<double>(Load<uint64_t>(buf, i));
    case mdnFloat16:
      return HalfToFloat(Load<uint16_t>(buf, i));
    case mdnFloat32:
      return Load<float>(buf, i);
    case mdnFloat64:
      return Load<double>(buf, i);
    case mdnBfloat16:
      return Bfloat16ToFloat(Load<uint16_t>(buf, i));
    default:
      return 0.0;
  }
}

void StoreElement(void* buf, size_t i, mdnDataType_t type, double value) {
  switch (type) {
    case mdnInt8:
      Store(buf, i, static_cast<int8_t>(value));
      break;
    case mdnUint8:
      Store(buf, i, static_cast<uint8_t>(value));
      break;
    case mdnInt32:
      Store(buf, i, static_cast<int32_t>(value));
      break;
    case mdnUint32:
      Store(buf, i, static_cast<uint32_t>(value));
      break;
    case mdnInt64:
      Store(buf, i, static_cast<int64_t>(value));
      break;
    case mdnUint64:
      Store(buf, i, static_cast<uint64_t>(value));
      break;
    case mdnFloat16:
      Store(buf, i, FloatToHalf(static_cast<float>(value)));
      break;
    case mdnFloat32:
      Store(buf, i, static_cast<float>(value));
      break;
    case mdnFloat64:
      Store(buf, i, value);
      break;
    case mdnBfloat16:
      Store(buf, i, FloatToBfloat16(static_cast<float>(value)));
      break;
    default:
      break;
  }
}

}  // namespace meridian::perf
