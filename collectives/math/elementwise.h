// The arithmetic of one element, written once.  The scalar reference kernels
// are these functions in a loop; the AVX2/AVX-512 kernels and the CUDA kernels
// must reproduce their bits exactly, so this header *is* the definition of a
// reduction's result (see reduce.h for the contract in words).
//
// Beyond reduce.h, one choice made here: every NaN that an operation produces
// is the canonical quiet NaN of its type (positive sign, only the quiet bit
// set).  Hardware disagrees on which input NaN's payload survives (x86 keeps
// the first operand's, GPUs return their own canonical NaN, and a compiler may
// commute a + b), so keeping payloads would break bit parity between
// implementations; canonicalising makes every implementation agree.
//
// Only the plain conversions (Fp16ToFp32, Fp32ToFp16, Bf16ToFp32, Fp32ToBf16)
// keep NaN payloads the way x86 F16C does: sign and top payload bits kept,
// quiet bit set when narrowing.
#ifndef MERIDIAN_COLLECTIVES_MATH_ELEMENTWISE_H_
#define MERIDIAN_COLLECTIVES_MATH_ELEMENTWISE_H_

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "collectives/math/types.h"

#ifndef MDN_HOST_DEVICE
#if defined(__CUDACC__)
#define MDN_HOST_DEVICE __host__ __device__
#else
#define MDN_HOST_DEVICE
#endif
#endif

namespace meridian::math {

// fp16 and bf16 are carried as their bit patterns; these tags keep them
// apart from each other and from uint16_t in templates.
struct Half {
  uint16_t bits;
};
struct Bfloat16 {
  uint16_t bits;
};

// Canonical quiet NaN bit patterns (see the header comment).
inline constexpr uint32_t kFp32CanonicalNaN = 0x7FC00000u;
inline constexpr uint64_t kFp64CanonicalNaN = 0x7FF8000000000000ull;
inline constexpr uint16_t kFp16CanonicalNaN = 0x7E00u;
inline constexpr uint16_t kBf16CanonicalNaN = 0x7FC0u;

MDN_HOST_DEVICE inline uint32_t BitsOf(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
MDN_HOST_DEVICE inline uint64_t BitsOf(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}
MDN_HOST_DEVICE inline float Fp32FromBits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
MDN_HOST_DEVICE inline double Fp64FromBits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

// ---------------------------------------------------------------------------
// Conversions.  Widening is exact; narrowing rounds to nearest, ties to even,
// overflows to infinity, and produces subnormals (no flush to zero).

MDN_HOST_DEVICE inline float Fp16ToFp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) {
    // Infinity, or NaN with its payload; F16C sets the quiet bit.
    const uint32_t quiet = mant != 0 ? 0x00400000u : 0u;
    return Fp32FromBits(sign | 0x7F800000u | quiet | (mant << 13));
  }
  if (exp == 0) {
    // Subnormal (or zero): mant * 2^-24, exact in fp32, whose normal range
    // covers it, so no flush-to-zero mode can disturb it.
    const float magnitude = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return Fp32FromBits(sign | BitsOf(magnitude));
  }
  return Fp32FromBits(sign | ((exp + 112u) << 23) | (mant << 13));
}

MDN_HOST_DEVICE inline uint16_t Fp32ToFp16(float f) {
  const uint32_t x = BitsOf(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) {  // NaN: quiet it, keep the top payload bits
    return static_cast<uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  }
  // 65520 is halfway between 65504 (largest fp16, odd mantissa) and the next
  // step, so it and everything above round to infinity.
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (ax >= 0x38800000u) {  // fp16 normal range, >= 2^-14
    // Re-bias the exponent (127 -> 15), then round off 13 mantissa bits; a
    // carry out of the mantissa correctly bumps the exponent.
    uint32_t r = ax - (112u << 23);
    r += 0x0FFFu + ((r >> 13) & 1u);
    return static_cast<uint16_t>(sign | (r >> 13));
  }
  // Subnormal result in units of 2^-24.  At or below 2^-25 (the tie between 0
  // and the smallest subnormal) the result is zero.
  if (ax <= 0x33000000u) return sign;
  const uint32_t mant = (ax & 0x007FFFFFu) | 0x00800000u;
  const uint32_t shift = 126u - (ax >> 23);  // 14..24 here
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;  // may reach 2^-14: fine
  return static_cast<uint16_t>(sign | q);
}

MDN_HOST_DEVICE inline float Bf16ToFp32(uint16_t b) {
  return Fp32FromBits(static_cast<uint32_t>(b) << 16);
}

MDN_HOST_DEVICE inline uint16_t Fp32ToBf16(float f) {
  const uint32_t x = BitsOf(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) {
    // NaN: rounding could carry a payload into the sign; truncate and quiet.
    return static_cast<uint16_t>((x >> 16) | 0x0040u);
  }
  // Adding 0x7FFF plus the lsb of the kept half rounds to nearest-even; the
  // carry reaches the exponent (and infinity) exactly when it should.
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

// ---------------------------------------------------------------------------
// Per-type storage <-> compute mapping.  Integers compute in their own type,
// fp16/bf16 in fp32.

template <typename Storage>
struct ElementTraits {
  using Compute = Storage;
  MDN_HOST_DEVICE static Compute Load(Storage s) { return s; }
  MDN_HOST_DEVICE static Storage Store(Compute c) { return c; }
};
template <>
struct ElementTraits<Half> {
  using Compute = float;
  MDN_HOST_DEVICE static float Load(Half h) { return Fp16ToFp32(h.bits); }
  MDN_HOST_DEVICE static Half Store(float f) { return Half{Fp32ToFp16(f)}; }
};
template <>
struct ElementTraits<Bfloat16> {
  using Compute = float;
  MDN_HOST_DEVICE static float Load(Bfloat16 b) { return Bf16ToFp32(b.bits); }
  MDN_HOST_DEVICE static Bfloat16 Store(float f) {
    return Bfloat16{Fp32ToBf16(f)};
  }
};

// ---------------------------------------------------------------------------
// Floating-point operations (float and double).

template <typename F>
MDN_HOST_DEVICE inline F CanonicalNaN();
template <>
MDN_HOST_DEVICE inline float CanonicalNaN<float>() {
  return Fp32FromBits(kFp32CanonicalNaN);
}
template <>
MDN_HOST_DEVICE inline double CanonicalNaN<double>() {
  return Fp64FromBits(kFp64CanonicalNaN);
}

template <typename F>
MDN_HOST_DEVICE inline F Canonicalize(F x) {
  return x != x ? CanonicalNaN<F>() : x;
}

template <typename F>
MDN_HOST_DEVICE inline F FloatMax(F a, F b) {
  if (a != a || b != b) return CanonicalNaN<F>();
  if (a > b) return a;
  if (b > a) return b;
  // Equal: identical bits, or +0 and -0; AND of the bits picks +0.
  const auto bits = BitsOf(a) & BitsOf(b);
  if constexpr (sizeof(F) == 4)
    return Fp32FromBits(bits);
  else
    return Fp64FromBits(bits);
}

template <typename F>
MDN_HOST_DEVICE inline F FloatMin(F a, F b) {
  if (a != a || b != b) return CanonicalNaN<F>();
  if (a < b) return a;
  if (b < a) return b;
  const auto bits = BitsOf(a) | BitsOf(b);  // OR picks -0
  if constexpr (sizeof(F) == 4)
    return Fp32FromBits(bits);
  else
    return Fp64FromBits(bits);
}

// ---------------------------------------------------------------------------
// Apply(op, a, b) on compute values.  kAvg reduces as kSum.

template <RedOp op, typename T>
MDN_HOST_DEVICE inline T Apply(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
      return Canonicalize<T>(a + b);
    } else if constexpr (op == RedOp::kProd) {
      return Canonicalize<T>(a * b);
    } else if constexpr (op == RedOp::kMax) {
      return FloatMax(a, b);
    } else {
      return FloatMin(a, b);
    }
  } else {
    // Wrap-around arithmetic in the unsigned twin, so signed overflow is
    // never UB.  The casts back truncate modulo 2^N (defined in C++20 and by
    // every compiler we build with).
    using U = std::make_unsigned_t<T>;
    if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
      return static_cast<T>(
          static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
    } else if constexpr (op == RedOp::kProd) {
      // uint8 promotes to int, where 255 * 255 cannot overflow; wider types
      // multiply as unsigned.
      return static_cast<T>(
          static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
    } else if constexpr (op == RedOp::kMax) {
      return a > b ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
}

// Storage-level reduction of one element: load, apply, round back.
template <RedOp op, typename Storage>
MDN_HOST_DEVICE inline Storage ReduceElement(Storage a, Storage b) {
  using Tr = ElementTraits<Storage>;
  return Tr::Store(Apply<op>(Tr::Load(a), Tr::Load(b)));
}

// ---------------------------------------------------------------------------
// DivideBy of one element (the last step of kAvg).

// The divisor as a floating compute value, correctly rounded (exact for any
// realistic rank count).
template <typename F>
MDN_HOST_DEVICE inline F DivisorAs(uint64_t divisor) {
  return static_cast<F>(divisor);
}

template <typename T>
MDN_HOST_DEVICE inline T DivideInt(T x, uint64_t divisor) {
  // Truncating division of the magnitude, then the sign back: no overflow for
  // INT_MIN and no narrowing of a divisor wider than T.  divisor must not be 0.
  if constexpr (std::is_signed_v<T>) {
    const bool negative = x < 0;
    const uint64_t ux = static_cast<uint64_t>(static_cast<int64_t>(x));
    const uint64_t magnitude = negative ? 0 - ux : ux;
    const uint64_t q = magnitude / divisor;
    return static_cast<T>(negative ? 0 - q : q);
  } else {
    return static_cast<T>(static_cast<uint64_t>(x) / divisor);
  }
}

template <typename Storage>
MDN_HOST_DEVICE inline Storage DivideElement(Storage x, uint64_t divisor) {
  using Tr = ElementTraits<Storage>;
  using C = typename Tr::Compute;
  if constexpr (std::is_floating_point_v<C>) {
    return Tr::Store(Canonicalize<C>(Tr::Load(x) / DivisorAs<C>(divisor)));
  } else {
    return DivideInt<C>(x, divisor);
  }
}

// Storage type of each DataType, for code that switches on the enum.
template <DataType T>
struct StorageOf;
// clang-format off
template <> struct StorageOf<DataType::kInt8> { using type = int8_t; };
template <> struct StorageOf<DataType::kUint8> { using type = uint8_t; };
template <> struct StorageOf<DataType::kInt32> { using type = int32_t; };
template <> struct StorageOf<DataType::kUint32> { using type = uint32_t; };
template <> struct StorageOf<DataType::kInt64> { using type = int64_t; };
template <> struct StorageOf<DataType::kUint64> { using type = uint64_t; };
template <> struct StorageOf<DataType::kFloat16> { using type = Half; };
template <> struct StorageOf<DataType::kFloat32> { using type = float; };
template <> struct StorageOf<DataType::kFloat64> { using type = double; };
template <> struct StorageOf<DataType::kBfloat16> { using type = Bfloat16; };
// clang-format on

}  // namespace meridian::math

#endif  // MERIDIAN_COLLECTIVES_MATH_ELEMENTWISE_H_
