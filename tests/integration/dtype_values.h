// Element values for multi-rank checks, chosen so that every reduction is
// exact in every data type at world sizes up to 8 (small integers, products
// of ±1 and 2), whatever order the ring adds them in.
#ifndef MERIDIAN_TESTS_INTEGRATION_DTYPE_VALUES_H_
#define MERIDIAN_TESTS_INTEGRATION_DTYPE_VALUES_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#include "meridian.h"

namespace meridian::testing {

inline uint16_t FloatToHalf(float f) {
  // Exact for the small integers used here (no rounding needed), which is
  // all these tests store.
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int exp = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (f == 0.0f) return static_cast<uint16_t>(sign);
  return static_cast<uint16_t>(sign | (exp << 10) | (mant >> 13));
}

inline float HalfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  float out;
  if (exp == 0) {
    out = std::ldexp(static_cast<float>(mant), -24);
    if (sign) out = -out;
    return out;
  }
  if (exp == 31) {
    uint32_t bits = sign | 0x7f800000u | (mant << 13);
    memcpy(&out, &bits, 4);
    return out;
  }
  uint32_t bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  memcpy(&out, &bits, 4);
  return out;
}

inline uint16_t FloatToBf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  return static_cast<uint16_t>(x >> 16);  // exact for small integers
}

inline float Bf16ToFloat(uint16_t b) {
  uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  memcpy(&f, &x, 4);
  return f;
}

// Stores v (a small integer value) as element i of buf.
inline void StoreValue(mdnDataType_t t, void* buf, size_t i, double v) {
  switch (t) {
    case mdnInt8: static_cast<int8_t*>(buf)[i] = static_cast<int8_t>(v); break;
    case mdnUint8: static_cast<uint8_t*>(buf)[i] = static_cast<uint8_t>(static_cast<int64_t>(v)); break;
    case mdnInt32: static_cast<int32_t*>(buf)[i] = static_cast<int32_t>(v); break;
    case mdnUint32: static_cast<uint32_t*>(buf)[i] = static_cast<uint32_t>(static_cast<int64_t>(v)); break;
    case mdnInt64: static_cast<int64_t*>(buf)[i] = static_cast<int64_t>(v); break;
    case mdnUint64: static_cast<uint64_t*>(buf)[i] = static_cast<uint64_t>(static_cast<int64_t>(v)); break;
    case mdnFloat16: static_cast<uint16_t*>(buf)[i] = FloatToHalf(static_cast<float>(v)); break;
    case mdnBfloat16: static_cast<uint16_t*>(buf)[i] = FloatToBf16(static_cast<float>(v)); break;
    case mdnFloat32: static_cast<float*>(buf)[i] = static_cast<float>(v); break;
    case mdnFloat64: static_cast<double*>(buf)[i] = v; break;
    default: break;
  }
}

inline double LoadValue(mdnDataType_t t, const void* buf, size_t i) {
  switch (t) {
    case mdnInt8: return static_cast<const int8_t*>(buf)[i];
    case mdnUint8: return static_cast<const uint8_t*>(buf)[i];
    case mdnInt32: return static_cast<const int32_t*>(buf)[i];
    case mdnUint32: return static_cast<const uint32_t*>(buf)[i];
    case mdnInt64: return static_cast<double>(static_cast<const int64_t*>(buf)[i]);
    case mdnUint64: return static_cast<double>(static_cast<const uint64_t*>(buf)[i]);
    case mdnFloat16: return HalfToFloat(static_cast<const uint16_t*>(buf)[i]);
    case mdnBfloat16: return Bf16ToFloat(static_cast<const uint16_t*>(buf)[i]);
    case mdnFloat32: return static_cast<const float*>(buf)[i];
    case mdnFloat64: return static_cast<const double*>(buf)[i];
    default: return 0;
  }
}

inline bool IsSigned(mdnDataType_t t) {
  return t != mdnUint8 && t != mdnUint32 && t != mdnUint64;
}
inline bool IsFloat(mdnDataType_t t) {
  return t == mdnFloat16 || t == mdnBfloat16 || t == mdnFloat32 || t == mdnFloat64;
}

// Input value of element i on `rank` for op: small, exact under the op.
inline double InputValue(mdnDataType_t t, mdnRedOp_t op, int rank, size_t i) {
  if (op == mdnProd) {
    // Products of 1, 2 and (signed types) -1 stay tiny and exact.
    int k = static_cast<int>((i + 3 * rank) % 4);
    if (k == 0) return 2;
    if (k == 1 && IsSigned(t)) return -1;
    return 1;
  }
  int v = static_cast<int>((i * 7 + rank * 3) % 13);
  if (IsSigned(t) && (i + rank) % 3 == 0) v = -v;
  return v;
}

// Expected reduction of element i over world ranks, computed exactly.
inline double Expected(mdnDataType_t t, mdnRedOp_t op, int world, size_t i) {
  double acc = InputValue(t, op, 0, i);
  for (int r = 1; r < world; ++r) {
    double v = InputValue(t, op, r, i);
    switch (op) {
      case mdnSum:
      case mdnAvg: acc += v; break;
      case mdnProd: acc *= v; break;
      case mdnMax: acc = v > acc ? v : acc; break;
      case mdnMin: acc = v < acc ? v : acc; break;
      default: break;
    }
  }
  if (op == mdnAvg) acc = IsFloat(t) ? acc / world : std::trunc(acc / world);
  return acc;
}

}  // namespace meridian::testing

#endif  // MERIDIAN_TESTS_INTEGRATION_DTYPE_VALUES_H_
