// Internal: the kernel tables that reduce.cc dispatches through.
//
// A vector kernel processes a prefix of the buffer whose length it chooses
// (whole vectors) and returns how many elements it did; the dispatcher hands
// the rest to the scalar kernel.  So the ISA files need no scalar code, and
// above all never include elementwise.h: an inline function emitted from a
// file built with -mavx512f could be the copy the linker keeps for everyone,
// and would then fault on a CPU without AVX-512.  For the same reason the ISA
// files use no standard-library templates.
#ifndef MERIDIAN_COLLECTIVES_MATH_KERNELS_H_
#define MERIDIAN_COLLECTIVES_MATH_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "collectives/math/types.h"

namespace meridian::math::internal {

using ScalarReduceFn = void (*)(void* dst, const void* a, const void* b,
                                size_t count);
using ScalarDivideFn = void (*)(void* dst, size_t count, uint64_t divisor);

struct ScalarKernels {
  ScalarReduceFn reduce[kNumDataTypes][kNumRedOps];
  ScalarDivideFn divide[kNumDataTypes];
};

// Return the number of leading elements processed; nullptr entries mean
// "not vectorised on this ISA" (the scalar kernel does all of it).
// stream: write dst with non-temporal stores, then fence; the caller
// guarantees dst is 64-byte aligned in that case.
using VectorReduceFn = size_t (*)(void* dst, const void* a, const void* b,
                                  size_t count, bool stream);
using VectorDivideFn = size_t (*)(void* dst, size_t count, uint64_t divisor,
                                  bool stream);

struct VectorKernels {
  VectorReduceFn reduce[kNumDataTypes][kNumRedOps];
  VectorDivideFn divide[kNumDataTypes];
};

// Constant-initialised, so reading them runs no code from the ISA files.
extern const ScalarKernels kScalarKernels;
#if defined(MDN_MATH_HAVE_AVX2)
extern const VectorKernels kAvx2Kernels;
#endif
#if defined(MDN_MATH_HAVE_AVX512)
extern const VectorKernels kAvx512Kernels;
#endif

constexpr int Index(DataType t) { return static_cast<int>(t); }
constexpr int Index(RedOp op) { return static_cast<int>(op); }

}  // namespace meridian::math::internal

#endif  // MERIDIAN_COLLECTIVES_MATH_KERNELS_H_
