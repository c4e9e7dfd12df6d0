// Run-time dispatch: pick the widest ISA this CPU supports (optionally capped
// by MERIDIAN_MATH_ISA), run its vector kernel over whole vectors, and let
// the scalar reference do the rest (the tail, and for streaming stores the
// head up to a cache-line boundary).  Scalar and vector parts give the same
// bits, so where the split falls never shows in the result.
#include "collectives/math/reduce.h"

#include <optional>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "base/env.h"
#include "base/log.h"
#include "collectives/math/kernels.h"

// Outputs of at least this many bytes are written with non-temporal
// (streaming) stores, which skip the read-for-ownership of every destination
// line and leave the caches to the inputs: on large buffers that is the
// difference between ~75% and ~100% of memcpy's bandwidth.  Smaller outputs
// are usually read again soon (sent, or reduced into by the next step) and
// stay cached.  <= 0 never streams.
MDN_PARAM(MathStreamMinBytes, "MATH_STREAM_MIN_BYTES", 8 << 20)

namespace meridian::math {
namespace {

using internal::Index;

// CPUID through the compiler's runtime, which also checks that the OS saves
// the YMM/ZMM state (XGETBV), not only that the core has the units.  F16C is
// read from CPUID directly: clang's __builtin_cpu_supports does not know it.
bool CpuSupports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2: {
      unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
      const bool f16c =
          __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
      return f16c && __builtin_cpu_supports("avx2");
    }
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq");
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

const internal::VectorKernels* VectorTable(Isa isa) {
  switch (isa) {
#if defined(MDN_MATH_HAVE_AVX2)
    case Isa::kAvx2:
      return &internal::kAvx2Kernels;
#endif
#if defined(MDN_MATH_HAVE_AVX512)
    case Isa::kAvx512:
      return &internal::kAvx512Kernels;
#endif
    default:
      return nullptr;
  }
}

std::optional<Isa> ParseIsa(const std::string& name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (name == IsaName(isa)) return isa;
  }
  return std::nullopt;
}

// Knob MERIDIAN_MATH_ISA=scalar|avx2|avx512: an upper bound, for comparing
// kernels in production or ruling one out; it never enables an ISA the CPU
// lacks.  (A string, so it is read with GetEnv rather than MDN_PARAM.)
Isa DetectIsa() {
  Isa best = Isa::kScalar;
  if (IsaSupported(Isa::kAvx512)) {
    best = Isa::kAvx512;
  } else if (IsaSupported(Isa::kAvx2)) {
    best = Isa::kAvx2;
  }
  if (std::optional<std::string> cap = GetEnv("MERIDIAN_MATH_ISA")) {
    std::optional<Isa> parsed = ParseIsa(*cap);
    if (!parsed) {
      MDN_LOG(Warn) << "MERIDIAN_MATH_ISA='" << *cap
                    << "' is not scalar, avx2 or avx512; using "
                    << IsaName(best);
    } else if (static_cast<int>(*parsed) <= static_cast<int>(best)) {
      best = *parsed;
    } else {
      MDN_LOG(Warn) << "MERIDIAN_MATH_ISA=" << *cap
                    << " is not supported here; using " << IsaName(best);
    }
  }
  MDN_LOG(Debug) << "reduction kernels: " << IsaName(best);
  return best;
}

// Requires IsaSupported(isa); a caller that breaks this gets the scalar
// kernels (correct, slower) and an error in the log rather than SIGILL.
const internal::VectorKernels* CheckedTable(Isa isa) {
  if (isa == Isa::kScalar) return nullptr;
  if (!IsaSupported(isa)) {
    MDN_LOG(Error) << "math: ISA " << IsaName(isa)
                   << " is not supported on this CPU/build; using scalar";
    return nullptr;
  }
  return VectorTable(isa);
}

// How a call is split: [0, head) scalar so that the vector part starts on a
// cache line when streaming, then vector, then the scalar tail.
struct Split {
  size_t head = 0;
  bool stream = false;
};

Split PlanSplit(const void* dst, size_t count, size_t elem_size) {
  Split split;
  const int64_t min_bytes = param::MathStreamMinBytes();
  const auto addr = reinterpret_cast<uintptr_t>(dst);
  if (min_bytes <= 0 || count * elem_size < static_cast<uint64_t>(min_bytes) ||
      addr % elem_size != 0) {
    return split;
  }
  split.head = ((64 - addr % 64) % 64) / elem_size;
  split.stream = true;
  return split;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool IsaSupported(Isa isa) {
  // Asked on every call, so answered from a table filled once.
  static const bool supported[] = {
      true,
      VectorTable(Isa::kAvx2) != nullptr && CpuSupports(Isa::kAvx2),
      VectorTable(Isa::kAvx512) != nullptr && CpuSupports(Isa::kAvx512),
  };
  const int i = static_cast<int>(isa);
  return i >= 0 &&
         i < static_cast<int>(sizeof supported / sizeof supported[0]) &&
         supported[i];
}

Isa ActiveIsa() {
  static const Isa isa = DetectIsa();
  return isa;
}

void ReduceWith(Isa isa, DataType type, RedOp op, void* dst, const void* a,
                const void* b, size_t count) {
  if (!IsValid(type) || !IsValid(op)) {
    MDN_LOG(Error) << "math::Reduce: invalid type " << static_cast<int>(type)
                   << " or op " << static_cast<int>(op);
    return;
  }
  if (count == 0) return;
  const size_t size = DataTypeSize(type);
  const internal::ScalarReduceFn scalar =
      internal::kScalarKernels.reduce[Index(type)][Index(op)];
  internal::VectorReduceFn vector = nullptr;
  if (const internal::VectorKernels* table = CheckedTable(isa)) {
    vector = table->reduce[Index(type)][Index(op)];
  }
  if (vector == nullptr) {
    scalar(dst, a, b, count);
    return;
  }
  char* d = static_cast<char*>(dst);
  const char* x = static_cast<const char*>(a);
  const char* y = static_cast<const char*>(b);
  const Split split = PlanSplit(dst, count, size);
  size_t done = split.head;
  if (done > 0) scalar(d, x, y, done);
  const size_t off = done * size;
  done += vector(d + off, x + off, y + off, count - done, split.stream);
  if (done < count) {
    const size_t tail = done * size;
    scalar(d + tail, x + tail, y + tail, count - done);
  }
}

// divisor 0 is refused for every type (it would be UB for integers, and a
// kAvg over zero contributions is a caller bug for floats too): the buffer
// is left unchanged and the error logged.
void DivideByWith(Isa isa, DataType type, void* dst, size_t count,
                  uint64_t divisor) {
  if (!IsValid(type)) {
    MDN_LOG(Error) << "math::DivideBy: invalid type " << static_cast<int>(type);
    return;
  }
  if (divisor == 0) {
    MDN_LOG(Error) << "math::DivideBy: divisor 0; " << DataTypeName(type)
                   << " buffer left unchanged";
    return;
  }
  if (count == 0) return;
  const size_t size = DataTypeSize(type);
  const internal::ScalarDivideFn scalar =
      internal::kScalarKernels.divide[Index(type)];
  internal::VectorDivideFn vector = nullptr;
  if (const internal::VectorKernels* table = CheckedTable(isa)) {
    vector = table->divide[Index(type)];
  }
  if (vector == nullptr) {
    scalar(dst, count, divisor);
    return;
  }
  char* d = static_cast<char*>(dst);
  const Split split = PlanSplit(dst, count, size);
  size_t done = split.head;
  if (done > 0) scalar(d, done, divisor);
  done += vector(d + done * size, count - done, divisor, split.stream);
  if (done < count) scalar(d + done * size, count - done, divisor);
}

void Reduce(DataType type, RedOp op, void* dst, const void* a, const void* b,
            size_t count) {
  ReduceWith(ActiveIsa(), type, op, dst, a, b, count);
}

void DivideBy(DataType type, void* dst, size_t count, uint64_t divisor) {
  DivideByWith(ActiveIsa(), type, dst, count, divisor);
}

}  // namespace meridian::math
