// Names, sizes and element access for the data types and reduction
// operations of meridian.h, spelled as nccl-tests spells them.
#ifndef MERIDIAN_PERF_COMMON_DATATYPE_H_
#define MERIDIAN_PERF_COMMON_DATATYPE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "meridian.h"

namespace meridian::perf {

// "int8" ... "bfloat16"; "?" when out of range.
const char* DataTypeName(mdnDataType_t type);
// "sum", "prod", "max", "min", "avg"; "?" when out of range.
const char* RedOpName(mdnRedOp_t op);

// A name, or "all" for every value in enum order.  False for an unknown name.
bool ParseDataTypes(const std::string& name,
                    std::vector<mdnDataType_t>* types_p);
bool ParseRedOps(const std::string& name, std::vector<mdnRedOp_t>* ops_p);

// Bytes per element; 0 when out of range.  Same as mdnDataTypeSize, but
// usable without the library.
size_t DataTypeBytes(mdnDataType_t type);

bool IsFloatingPoint(mdnDataType_t type);
bool IsSigned(mdnDataType_t type);

// Element i of buf as a double, and back.  Every value the benchmarks use is
// exactly representable in double; Store truncates for integer types and
// rounds to nearest even for half and bfloat16.
double LoadElement(const void* buf, size_t i, mdnDataType_t type);
void StoreElement(void* buf, size_t i, mdnDataType_t type, double value);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_DATATYPE_H_
