// Element-wise reduction kernels for host memory, vectorised (AVX2 and
// AVX-512, chosen at run time by CPUID) with a scalar reference that defines
// the exact result.  Every implementation returns bit-identical results for
// every input, NaN and infinities included:
//   - integers wrap around on overflow (two's complement), no UB;
//   - fp16 and bf16 are computed in fp32 and rounded to nearest-even;
//   - max/min propagate NaN: if either operand is NaN the result is NaN
//     (a quiet NaN); max(+0,-0) = +0 and min(+0,-0) = -0;
//   - kAvg reduces as kSum; DivideBy does the final division once.
#ifndef MERIDIAN_COLLECTIVES_MATH_REDUCE_H_
#define MERIDIAN_COLLECTIVES_MATH_REDUCE_H_

#include <cstddef>
#include <cstdint>

#include "collectives/math/types.h"

namespace meridian::math {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// dst[i] = a[i] (op) b[i] for i < count.  dst may be the same pointer as a
// or b (not a partial overlap).
void Reduce(DataType type, RedOp op, void* dst, const void* a, const void* b,
            size_t count);

// dst[i] = dst[i] / divisor: the final step of kAvg.  Floating types divide
// in their compute precision (fp16/bf16 via fp32); integers use truncating
// division of the wrapped sum (signed for signed types).
void DivideBy(DataType type, void* dst, size_t count, uint64_t divisor);

// The implementation the dispatcher uses on this CPU.
Isa ActiveIsa();
const char* IsaName(Isa isa);
// True when this CPU and build can run `isa`.
bool IsaSupported(Isa isa);

// Runs one specific implementation (tests and benchmarks compare them).
// Requires IsaSupported(isa).
void ReduceWith(Isa isa, DataType type, RedOp op, void* dst, const void* a,
                const void* b, size_t count);
void DivideByWith(Isa isa, DataType type, void* dst, size_t count,
                  uint64_t divisor);

}  // namespace meridian::math

#endif  // MERIDIAN_COLLECTIVES_MATH_REDUCE_H_
