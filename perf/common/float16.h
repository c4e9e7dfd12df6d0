// IEEE half and bfloat16 conversions, written here so the benchmarks check
// the library against arithmetic it did not supply.
#ifndef MERIDIAN_PERF_COMMON_FLOAT16_H_
#define MERIDIAN_PERF_COMMON_FLOAT16_H_

#include <cstdint>

namespace meridian::perf {

// Round to nearest even; NaN becomes a quiet NaN, overflow becomes infinity.
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);

uint16_t FloatToBfloat16(float value);
float Bfloat16ToFloat(uint16_t bits);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_FLOAT16_H_
