// Every vector kernel against the scalar reference, bit for bit, and the
// reference itself against hand-computed values.  Hand-computed checks run
// through every supported ISA on buffers long enough to reach the vector
// loops, not only the scalar tails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "collectives/math/elementwise.h"
#include "collectives/math/reduce.h"
#include "collectives/math/types.h"

namespace meridian::math {
namespace {

// Streaming (non-temporal) stores start at 8 MiB by default; lowering the
// threshold before the first call (the knob is read once) makes the longest
// buffers below take that path, misaligned heads included, while the others
// keep ordinary stores.
const bool kStreamFromFourKiB = [] {
  setenv("MERIDIAN_MATH_STREAM_MIN_BYTES", "4096", 1);
  return true;
}();

constexpr DataType kAllTypes[] = {DataType::kInt8,    DataType::kUint8,
                                  DataType::kInt32,   DataType::kUint32,
                                  DataType::kInt64,   DataType::kUint64,
                                  DataType::kFloat16, DataType::kFloat32,
                                  DataType::kFloat64, DataType::kBfloat16};
constexpr RedOp kAllOps[] = {RedOp::kSum, RedOp::kProd, RedOp::kMax,
                             RedOp::kMin, RedOp::kAvg};
// Around every vector width (8..64 elements) and the 4x unrolled loop.
constexpr size_t kLengths[] = {0,   1,   2,   3,   7,   8,    15,  16,
                               17,  31,  32,  33,  63,  64,   65,  127,
                               128, 129, 255, 256, 257, 1000, 4099};

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

std::string Describe(Isa isa, DataType t, RedOp op) {
  return std::string(IsaName(isa)) + " " + DataTypeName(t) + " " +
         RedOpName(op);
}

// ---------------------------------------------------------------------------
// Input generation: a mix of raw bit patterns (every class: NaN payloads,
// subnormals...), values across the whole exponent range (rounding, overflow
// to inf, underflow to subnormals), and the type's special values.

uint64_t FloatPattern(DataType t, double v) {
  switch (t) {
    case DataType::kFloat16:
      return Fp32ToFp16(static_cast<float>(v));
    case DataType::kBfloat16:
      return Fp32ToBf16(static_cast<float>(v));
    case DataType::kFloat32:
      return BitsOf(static_cast<float>(v));
    default:
      return BitsOf(v);
  }
}

std::vector<uint64_t> Specials(DataType t) {
  switch (t) {
    case DataType::kInt8:
    case DataType::kUint8:
      return {0, 1, 0x7F, 0x80, 0x81, 0xFF, 0xFE, 2, 16};
    case DataType::kInt32:
    case DataType::kUint32:
      return {0, 1, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF, 0x10000, 2};
    case DataType::kInt64:
    case DataType::kUint64:
      return {0,
              1,
              0x7FFFFFFFFFFFFFFF,
              0x8000000000000000,
              0xFFFFFFFFFFFFFFFF,
              0x100000000,
              0xFFFFFFFF,
              0x100000001,
              2};
    case DataType::kFloat16:  // ±0, ±inf, qNaN, sNaN, -NaN, max, subnormals
      return {0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE01, 0x7BFF,
              0xFBFF, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x3C01};
    case DataType::kBfloat16:
      return {0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0xFFC1, 0x7F7F,
              0xFF7F, 0x0001, 0x8001, 0x007F, 0x0080, 0x3F80, 0xBF80, 0x3F81};
    case DataType::kFloat32:
      return {0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
              0x7F800001, 0xFFC00001, 0x7F7FFFFF, 0xFF7FFFFF, 0x00000001,
              0x80000001, 0x007FFFFF, 0x00800000, 0x3F800000, 0xBF800000};
    default:
      return {0x0000000000000000, 0x8000000000000000, 0x7FF0000000000000,
              0xFFF0000000000000, 0x7FF8000000000000, 0x7FF0000000000001,
              0xFFF8000000000001, 0x7FEFFFFFFFFFFFFF, 0x0000000000000001,
              0x800FFFFFFFFFFFFF, 0x0010000000000000, 0x3FF0000000000000};
  }
}

bool IsFloating(DataType t) {
  return t == DataType::kFloat16 || t == DataType::kFloat32 ||
         t == DataType::kFloat64 || t == DataType::kBfloat16;
}

// Exponent range (base 2) that spans subnormals to overflow for the type.
void ExponentRange(DataType t, int* lo, int* hi) {
  switch (t) {
    case DataType::kFloat16:
      *lo = -27, *hi = 17;
      break;
    case DataType::kFloat64:
      *lo = -1078, *hi = 1025;
      break;
    default:
      *lo = -152, *hi = 129;
  }
}

std::vector<uint8_t> RandomBuffer(DataType t, size_t count,
                                  std::mt19937_64& rng) {
  const size_t size = DataTypeSize(t);
  const std::vector<uint64_t> specials = Specials(t);
  int lo = 0, hi = 0;
  ExponentRange(t, &lo, &hi);
  std::uniform_int_distribution<int> category(0, 9);
  std::uniform_int_distribution<int> exponent(lo, hi);
  std::uniform_real_distribution<double> mantissa(-2.0, 2.0);
  std::uniform_int_distribution<int> small(-20, 20);
  std::vector<uint8_t> buf(count * size);
  for (size_t i = 0; i < count; ++i) {
    const int c = category(rng);
    uint64_t bits;
    if (c < 3) {
      bits = rng();
    } else if (c < 5) {
      bits = specials[rng() % specials.size()];
    } else if (IsFloating(t)) {
      // Mostly ordinary magnitudes, so sums and products round non-trivially.
      bits = c < 7 ? FloatPattern(t, small(rng) * 0.375)
                   : FloatPattern(t, std::ldexp(mantissa(rng), exponent(rng)));
    } else {
      bits = static_cast<uint64_t>(static_cast<int64_t>(small(rng)));
    }
    std::memcpy(&buf[i * size], &bits, size);  // little-endian low bytes
  }
  return buf;
}

// First differing element, printed as bits; empty when equal.
std::string FirstDifference(DataType t, const uint8_t* want, const uint8_t* got,
                            size_t count) {
  const size_t size = DataTypeSize(t);
  for (size_t i = 0; i < count; ++i) {
    if (std::memcmp(want + i * size, got + i * size, size) != 0) {
      uint64_t w = 0, g = 0;
      std::memcpy(&w, want + i * size, size);
      std::memcpy(&g, got + i * size, size);
      char msg[128];
      std::snprintf(msg, sizeof msg,
                    "element %zu of %zu: want 0x%llx got 0x%llx", i, count,
                    static_cast<unsigned long long>(w),
                    static_cast<unsigned long long>(g));
      return msg;
    }
  }
  return "";
}

enum class Alias { kNone, kDstIsA, kDstIsB };

// ---------------------------------------------------------------------------
// Vector kernels == scalar reference, bit for bit.

TEST(MathReduceTest, EveryIsaMatchesScalarReference) {
  std::mt19937_64 rng(20240611);
  for (Isa isa : SupportedIsas()) {
    for (DataType t : kAllTypes) {
      const size_t size = DataTypeSize(t);
      for (RedOp op : kAllOps) {
        for (size_t n : kLengths) {
          // One element of slack: offset 1 makes every vector access unaligned.
          for (size_t offset : {size_t{0}, size_t{1}}) {
            std::vector<uint8_t> a = RandomBuffer(t, n + 1, rng);
            std::vector<uint8_t> b = RandomBuffer(t, n + 1, rng);
            std::vector<uint8_t> want(a.size());
            const size_t off = offset * size;
            ReduceWith(Isa::kScalar, t, op, want.data() + off, a.data() + off,
                       b.data() + off, n);
            for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB}) {
              std::vector<uint8_t> x = a, y = b, out(a.size());
              uint8_t* dst = alias == Alias::kNone     ? out.data()
                             : alias == Alias::kDstIsA ? x.data()
                                                       : y.data();
              ReduceWith(isa, t, op, dst + off, x.data() + off, y.data() + off,
                         n);
              const std::string diff =
                  FirstDifference(t, want.data() + off, dst + off, n);
              ASSERT_EQ(diff, "")
                  << Describe(isa, t, op) << " n=" << n << " offset=" << offset
                  << " alias=" << static_cast<int>(alias);
            }
          }
        }
      }
    }
  }
}

TEST(MathReduceTest, DispatcherUsesActiveIsa) {
  EXPECT_TRUE(IsaSupported(ActiveIsa()));
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  std::mt19937_64 rng(7);
  for (DataType t : kAllTypes) {
    std::vector<uint8_t> a = RandomBuffer(t, 333, rng),
                         b = RandomBuffer(t, 333, rng);
    std::vector<uint8_t> want(a.size()), got(a.size());
    ReduceWith(Isa::kScalar, t, RedOp::kSum, want.data(), a.data(), b.data(),
               333);
    Reduce(t, RedOp::kSum, got.data(), a.data(), b.data(), 333);
    EXPECT_EQ(want, got) << DataTypeName(t);
  }
}

// ---------------------------------------------------------------------------
// Hand-computed results.  Each pair is broadcast over 160 elements (a
// multiple of every vector width, with unrolled iterations) and run on every
// ISA, so these check the vector kernels and the reference alike.

template <typename S>
S ReduceEverywhere(DataType t, RedOp op, S a, S b) {
  constexpr size_t kN = 160;
  std::vector<S> x(kN, a), y(kN, b);
  S result{};
  bool first = true;
  for (Isa isa : SupportedIsas()) {
    std::vector<S> out(kN);
    ReduceWith(isa, t, op, out.data(), x.data(), y.data(), kN);
    for (size_t i = 0; i < kN; ++i) {
      if (first) {
        result = out[i];
        first = false;
      }
      // Bits, not values: NaN payloads and signed zeros must match too.
      // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
      if (std::memcmp(&out[i], &result, sizeof(S)) != 0) {
        ADD_FAILURE() << Describe(isa, t, op) << " element " << i
                      << " differs from the first ISA's result";
        break;
      }
    }
  }
  return result;
}

uint16_t F16(DataType t, RedOp op, uint16_t a, uint16_t b) {
  return ReduceEverywhere<uint16_t>(t, op, a, b);
}
uint32_t F32(RedOp op, uint32_t a, uint32_t b) {
  return BitsOf(ReduceEverywhere<float>(DataType::kFloat32, op, Fp32FromBits(a),
                                        Fp32FromBits(b)));
}
uint64_t F64(RedOp op, uint64_t a, uint64_t b) {
  return BitsOf(ReduceEverywhere<double>(DataType::kFloat64, op,
                                         Fp64FromBits(a), Fp64FromBits(b)));
}

TEST(MathReduceTest, IntegersWrapAround) {
  constexpr auto kI32 = DataType::kInt32;
  constexpr int32_t kMax32 = std::numeric_limits<int32_t>::max();
  constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(ReduceEverywhere<int32_t>(kI32, RedOp::kSum, kMax32, 1), kMin32);
  EXPECT_EQ(ReduceEverywhere<int32_t>(kI32, RedOp::kAvg, kMin32, -1), kMax32);
  EXPECT_EQ(ReduceEverywhere<int32_t>(kI32, RedOp::kProd, kMin32, -1), kMin32);
  EXPECT_EQ(ReduceEverywhere<int32_t>(kI32, RedOp::kProd, 65536, 65536), 0);
  EXPECT_EQ(ReduceEverywhere<int32_t>(kI32, RedOp::kProd, -46341, 46341),
            2147479015);
  EXPECT_EQ(ReduceEverywhere<int32_t>(kI32, RedOp::kMax, kMin32, 1), 1);
  EXPECT_EQ(ReduceEverywhere<uint32_t>(DataType::kUint32, RedOp::kMax,
                                       0x80000000u, 1u),
            0x80000000u);
  EXPECT_EQ(ReduceEverywhere<uint32_t>(DataType::kUint32, RedOp::kSum,
                                       0xFFFFFFFFu, 2u),
            1u);

  constexpr auto kI8 = DataType::kInt8;
  EXPECT_EQ(ReduceEverywhere<int8_t>(kI8, RedOp::kProd, -128, -1), -128);
  EXPECT_EQ(ReduceEverywhere<int8_t>(kI8, RedOp::kProd, 16, 16), 0);
  EXPECT_EQ(ReduceEverywhere<int8_t>(kI8, RedOp::kProd, 100, 3), 44);
  EXPECT_EQ(ReduceEverywhere<int8_t>(kI8, RedOp::kProd, -3, 7), -21);
  EXPECT_EQ(ReduceEverywhere<int8_t>(kI8, RedOp::kSum, 127, 1), -128);
  EXPECT_EQ(ReduceEverywhere<int8_t>(kI8, RedOp::kMax, -128, 127), 127);
  EXPECT_EQ(ReduceEverywhere<int8_t>(kI8, RedOp::kMin, -128, 127), -128);
  constexpr auto kU8 = DataType::kUint8;
  EXPECT_EQ(ReduceEverywhere<uint8_t>(kU8, RedOp::kSum, 200, 100), 44);
  EXPECT_EQ(ReduceEverywhere<uint8_t>(kU8, RedOp::kProd, 255, 255), 1);
  EXPECT_EQ(ReduceEverywhere<uint8_t>(kU8, RedOp::kMax, 0x80, 0x7F), 0x80);
  EXPECT_EQ(ReduceEverywhere<uint8_t>(kU8, RedOp::kMin, 0x80, 0x7F), 0x7F);

  constexpr auto kI64 = DataType::kInt64;
  constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(ReduceEverywhere<int64_t>(kI64, RedOp::kSum, kMax64, 1), kMin64);
  EXPECT_EQ(ReduceEverywhere<int64_t>(kI64, RedOp::kProd, kMin64, -1), kMin64);
  EXPECT_EQ(ReduceEverywhere<int64_t>(kI64, RedOp::kProd, -1, 3), -3);
  // (2^32 + 1)^2 = 2^64 + 2^33 + 1: the cross terms of a split multiply.
  EXPECT_EQ(
      ReduceEverywhere<int64_t>(kI64, RedOp::kProd, 0x100000001, 0x100000001),
      0x200000001);
  EXPECT_EQ(ReduceEverywhere<int64_t>(kI64, RedOp::kMax, kMin64, 1), 1);
  EXPECT_EQ(ReduceEverywhere<int64_t>(kI64, RedOp::kMin, kMin64, 1), kMin64);
  constexpr auto kU64 = DataType::kUint64;
  EXPECT_EQ(ReduceEverywhere<uint64_t>(kU64, RedOp::kMax, 1ull << 63, 1),
            1ull << 63);
  EXPECT_EQ(ReduceEverywhere<uint64_t>(kU64, RedOp::kMin, 1ull << 63, 1), 1u);
  EXPECT_EQ(ReduceEverywhere<uint64_t>(kU64, RedOp::kSum, ~0ull, 1), 0u);
}

TEST(MathReduceTest, Float32Specials) {
  constexpr uint32_t kPos0 = 0x00000000, kNeg0 = 0x80000000, kNaN = 0x7FC00000;
  constexpr uint32_t kInf = 0x7F800000, kNegInf = 0xFF800000, kOne = 0x3F800000;
  EXPECT_EQ(F32(RedOp::kMax, kPos0, kNeg0), kPos0);
  EXPECT_EQ(F32(RedOp::kMax, kNeg0, kPos0), kPos0);
  EXPECT_EQ(F32(RedOp::kMin, kPos0, kNeg0), kNeg0);
  EXPECT_EQ(F32(RedOp::kMin, kNeg0, kPos0), kNeg0);
  EXPECT_EQ(F32(RedOp::kSum, kPos0, kNeg0), kPos0);
  EXPECT_EQ(F32(RedOp::kSum, kNeg0, kNeg0), kNeg0);
  // Any NaN in, in either position (quiet, signalling, negative, with
  // payload), gives the canonical quiet NaN.
  for (uint32_t nan : {0x7FC00000u, 0x7F800001u, 0xFFC12345u, 0x7FBFFFFFu}) {
    for (RedOp op : kAllOps) {
      EXPECT_EQ(F32(op, nan, kOne), kNaN)
          << RedOpName(op) << std::hex << " " << nan;
      EXPECT_EQ(F32(op, kOne, nan), kNaN)
          << RedOpName(op) << std::hex << " " << nan;
      EXPECT_EQ(F32(op, nan, kInf), kNaN) << RedOpName(op);
    }
  }
  EXPECT_EQ(F32(RedOp::kSum, kInf, kNegInf), kNaN);
  EXPECT_EQ(F32(RedOp::kProd, kPos0, kInf), kNaN);
  EXPECT_EQ(F32(RedOp::kMax, kNegInf, kOne), kOne);
  EXPECT_EQ(F32(RedOp::kMin, kInf, kNegInf), kNegInf);
  EXPECT_EQ(F32(RedOp::kSum, 0x7F7FFFFF, 0x7F7FFFFF), kInf);
  // Subnormals are kept, never flushed.
  EXPECT_EQ(F32(RedOp::kSum, 0x00000001, 0x00000001), 0x00000002u);
  EXPECT_EQ(F32(RedOp::kProd, 0x00800000, 0x3F000000),
            0x00400000u);  // 2^-126 * 0.5
  EXPECT_EQ(F32(RedOp::kMax, 0x00000001, 0x80000001), 0x00000001u);
  EXPECT_EQ(F32(RedOp::kSum, 0x3F800000, 0x33800000),
            0x3F800000u);  // 1 + 2^-24: tie, even
  EXPECT_EQ(F32(RedOp::kSum, 0x3F800001, 0x33800000),
            0x3F800002u);  // tie, even (up)
}

TEST(MathReduceTest, Float64Specials) {
  constexpr uint64_t kNeg0 = 0x8000000000000000, kNaN = 0x7FF8000000000000;
  constexpr uint64_t kOne = 0x3FF0000000000000, kInf = 0x7FF0000000000000;
  EXPECT_EQ(F64(RedOp::kMax, 0, kNeg0), 0u);
  EXPECT_EQ(F64(RedOp::kMax, kNeg0, 0), 0u);
  EXPECT_EQ(F64(RedOp::kMin, 0, kNeg0), kNeg0);
  EXPECT_EQ(F64(RedOp::kMin, kNeg0, 0), kNeg0);
  for (RedOp op : kAllOps) {
    EXPECT_EQ(F64(op, 0x7FF0000000000001, kOne), kNaN) << RedOpName(op);
    EXPECT_EQ(F64(op, kOne, 0xFFF8000000000123), kNaN) << RedOpName(op);
  }
  EXPECT_EQ(F64(RedOp::kSum, kInf, kInf | kNeg0), kNaN);
  EXPECT_EQ(F64(RedOp::kSum, 1, 1), 2u);  // subnormal
  EXPECT_EQ(F64(RedOp::kProd, 0x4000000000000000, 0x3FF8000000000000),
            0x4008000000000000u);  // 2 * 1.5 = 3
}

TEST(MathReduceTest, Float16RoundsThroughFp32) {
  constexpr auto kH = DataType::kFloat16;
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x3C00, 0x3C00), 0x4000);  // 1 + 1 = 2
  // 1 + 2^-11 is a tie between 1 and 1+2^-10: even (1).  1+2^-10 plus the
  // same is a tie between odd and even: even (up).
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x3C00, 0x1000), 0x3C00);
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x3C01, 0x1000), 0x3C02);
  // 65504 + 16 = 65520, the tie above the largest value: infinity.
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x7BFF, 0x4C00), 0x7C00);
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x7BFF, 0x4800),
            0x7BFF);  // + 8 rounds back down
  EXPECT_EQ(F16(kH, RedOp::kProd, 0x5C00, 0x5C00), 0x7C00);  // 256 * 256
  EXPECT_EQ(F16(kH, RedOp::kProd, 0xDC00, 0x5C00), 0xFC00);
  // Subnormals: 2^-24 steps; 2^-25 is a tie to 0, 1.5 * 2^-24 a tie to 2.
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x0001, 0x0001), 0x0002);
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x03FF, 0x0001), 0x0400);
  EXPECT_EQ(F16(kH, RedOp::kProd, 0x0001, 0x3800), 0x0000);
  EXPECT_EQ(F16(kH, RedOp::kProd, 0x0003, 0x3800), 0x0002);
  EXPECT_EQ(F16(kH, RedOp::kMax, 0x0000, 0x8000), 0x0000);
  EXPECT_EQ(F16(kH, RedOp::kMin, 0x0000, 0x8000), 0x8000);
  EXPECT_EQ(F16(kH, RedOp::kSum, 0x7C00, 0xFC00), kFp16CanonicalNaN);
  for (RedOp op : kAllOps) {
    EXPECT_EQ(F16(kH, op, 0x7C01, 0x3C00), kFp16CanonicalNaN) << RedOpName(op);
    EXPECT_EQ(F16(kH, op, 0x3C00, 0xFE00), kFp16CanonicalNaN) << RedOpName(op);
  }
}

TEST(MathReduceTest, Bfloat16RoundsThroughFp32) {
  constexpr auto kB = DataType::kBfloat16;
  // 1 + 2^-8 is a tie between 1 and 1+2^-7: even (1); from 1+2^-7: even (up).
  EXPECT_EQ(F16(kB, RedOp::kSum, 0x3F80, 0x3B80), 0x3F80);
  EXPECT_EQ(F16(kB, RedOp::kSum, 0x3F81, 0x3B80), 0x3F82);
  EXPECT_EQ(F16(kB, RedOp::kSum, 0x3F80, 0x3B81), 0x3F81);  // above the tie: up
  EXPECT_EQ(F16(kB, RedOp::kSum, 0x7F7F, 0x7F7F), 0x7F80);  // overflow to inf
  EXPECT_EQ(F16(kB, RedOp::kSum, 0x0001, 0x0001), 0x0002);  // subnormals kept
  EXPECT_EQ(F16(kB, RedOp::kProd, 0x0001, 0x3F00), 0x0000);  // tie to even: 0
  EXPECT_EQ(F16(kB, RedOp::kProd, 0x0003, 0x3F00), 0x0002);  // tie to even: 2
  EXPECT_EQ(F16(kB, RedOp::kMax, 0x8000, 0x0000), 0x0000);
  EXPECT_EQ(F16(kB, RedOp::kMin, 0x0000, 0x8000), 0x8000);
  for (RedOp op : kAllOps) {
    EXPECT_EQ(F16(kB, op, 0x7F81, 0x3F80), kBf16CanonicalNaN) << RedOpName(op);
    EXPECT_EQ(F16(kB, op, 0x3F80, 0xFFFF), kBf16CanonicalNaN) << RedOpName(op);
  }
}

// Every fp16 and bf16 value through every ISA: x + (-0) and max(x, x) are x
// (NaNs canonical), which round-trips every pattern through the widening and
// narrowing of each kernel.
TEST(MathReduceTest, EveryHalfPatternRoundTrips) {
  for (DataType t : {DataType::kFloat16, DataType::kBfloat16}) {
    const uint16_t exp_mask = t == DataType::kFloat16 ? 0x7C00 : 0x7F80;
    const uint16_t nan =
        t == DataType::kFloat16 ? kFp16CanonicalNaN : kBf16CanonicalNaN;
    std::vector<uint16_t> all(65536), neg_zero(65536, 0x8000), want(65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      all[i] = static_cast<uint16_t>(i);
      const bool is_nan =
          (i & exp_mask) == exp_mask && (i & ~(exp_mask | 0x8000u)) != 0;
      want[i] = is_nan ? nan : static_cast<uint16_t>(i);
    }
    for (Isa isa : SupportedIsas()) {
      std::vector<uint16_t> out(65536);
      ReduceWith(isa, t, RedOp::kSum, out.data(), all.data(), neg_zero.data(),
                 65536);
      EXPECT_EQ(FirstDifference(t, reinterpret_cast<uint8_t*>(want.data()),
                                reinterpret_cast<uint8_t*>(out.data()), 65536),
                "")
          << Describe(isa, t, RedOp::kSum);
      ReduceWith(isa, t, RedOp::kMax, out.data(), all.data(), all.data(),
                 65536);
      EXPECT_EQ(FirstDifference(t, reinterpret_cast<uint8_t*>(want.data()),
                                reinterpret_cast<uint8_t*>(out.data()), 65536),
                "")
          << Describe(isa, t, RedOp::kMax);
    }
  }
}

// ---------------------------------------------------------------------------
// DivideBy.

template <typename S>
std::vector<S> DivideEverywhere(DataType t, std::vector<S> values,
                                uint64_t divisor) {
  std::vector<S> result;
  for (Isa isa : SupportedIsas()) {
    // Repeat to 160 elements so the vector loops see every value.
    std::vector<S> buf;
    for (size_t i = 0; i < 160; ++i) buf.push_back(values[i % values.size()]);
    DivideByWith(isa, t, buf.data(), buf.size(), divisor);
    buf.resize(values.size());
    if (result.empty()) result = buf;
    // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison): bits, not values
    EXPECT_EQ(std::memcmp(result.data(), buf.data(), buf.size() * sizeof(S)), 0)
        << IsaName(isa) << " " << DataTypeName(t);
  }
  return result;
}

TEST(MathReduceTest, DivideByHandComputed) {
  constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
  constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(DivideEverywhere<int32_t>(DataType::kInt32,
                                      {-7, 7, kMin32, 2147483647}, 2),
            (std::vector<int32_t>{-3, 3, -1073741824, 1073741823}));
  EXPECT_EQ(
      DivideEverywhere<int32_t>(DataType::kInt32, {-5, kMin32}, 1ull << 40),
      (std::vector<int32_t>{0, 0}));
  EXPECT_EQ(DivideEverywhere<int8_t>(DataType::kInt8, {-128, 127, -1}, 3),
            (std::vector<int8_t>{-42, 42, 0}));
  EXPECT_EQ(DivideEverywhere<int8_t>(DataType::kInt8, {-128}, 1),
            (std::vector<int8_t>{-128}));
  EXPECT_EQ(DivideEverywhere<uint8_t>(DataType::kUint8, {255, 1}, 2),
            (std::vector<uint8_t>{127, 0}));
  EXPECT_EQ(DivideEverywhere<int64_t>(DataType::kInt64, {kMin64, kMin64, -9},
                                      1ull << 63),
            (std::vector<int64_t>{-1, -1, 0}));
  EXPECT_EQ(DivideEverywhere<int64_t>(DataType::kInt64, {kMin64}, 1),
            (std::vector<int64_t>{kMin64}));
  EXPECT_EQ(DivideEverywhere<uint64_t>(DataType::kUint64, {~0ull, 10}, ~0ull),
            (std::vector<uint64_t>{1, 0}));

  const std::vector<float> f = DivideEverywhere<float>(
      DataType::kFloat32, {1.0f, Fp32FromBits(0x7F800001), -0.0f, 6.0f}, 3);
  EXPECT_EQ(BitsOf(f[0]), 0x3EAAAAABu);  // 1/3 rounded to nearest
  EXPECT_EQ(BitsOf(f[1]), kFp32CanonicalNaN);
  EXPECT_EQ(BitsOf(f[2]), 0x80000000u);
  EXPECT_EQ(f[3], 2.0f);
  const std::vector<double> d =
      DivideEverywhere<double>(DataType::kFloat64, {1.0}, 3);
  EXPECT_EQ(BitsOf(d[0]), 0x3FD5555555555555u);
  EXPECT_EQ(DivideEverywhere<uint16_t>(DataType::kFloat16,
                                       {0x3C00, 0x7C01, 0x0001}, 3),
            (std::vector<uint16_t>{0x3555, kFp16CanonicalNaN, 0x0000}));
  EXPECT_EQ(DivideEverywhere<uint16_t>(DataType::kBfloat16,
                                       {0x3F80, 0xFF81, 0x4040}, 3),
            (std::vector<uint16_t>{0x3EAB, kBf16CanonicalNaN, 0x3F80}));
}

TEST(MathReduceTest, DivideByZeroLeavesBufferUnchanged) {
  for (Isa isa : SupportedIsas()) {
    std::vector<int32_t> v(100, 42);
    DivideByWith(isa, DataType::kInt32, v.data(), v.size(), 0);
    EXPECT_EQ(v, std::vector<int32_t>(100, 42));
    std::vector<float> f(100, 1.5f);
    DivideByWith(isa, DataType::kFloat32, f.data(), f.size(), 0);
    EXPECT_EQ(f, std::vector<float>(100, 1.5f));
  }
}

TEST(MathReduceTest, DivideByEveryIsaMatchesScalarReference) {
  std::mt19937_64 rng(99);
  for (Isa isa : SupportedIsas()) {
    for (DataType t : kAllTypes) {
      for (uint64_t divisor :
           {1ull, 2ull, 3ull, 7ull, 1000ull, (1ull << 40) + 1, ~0ull}) {
        for (size_t n : kLengths) {
          std::vector<uint8_t> want = RandomBuffer(t, n + 1, rng);
          std::vector<uint8_t> got = want;
          DivideByWith(Isa::kScalar, t, want.data() + DataTypeSize(t), n,
                       divisor);
          DivideByWith(isa, t, got.data() + DataTypeSize(t), n, divisor);
          ASSERT_EQ(FirstDifference(t, want.data(), got.data(), n + 1), "")
              << IsaName(isa) << " " << DataTypeName(t) << " n=" << n
              << " divisor=" << divisor;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Names and sizes.

TEST(MathTypesTest, NamesAndSizes) {
  const char* names[] = {"int8",   "uint8", "int32", "uint32", "int64",
                         "uint64", "half",  "float", "double", "bfloat16"};
  const size_t sizes[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
  for (int i = 0; i < kNumDataTypes; ++i) {
    EXPECT_STREQ(DataTypeName(static_cast<DataType>(i)), names[i]);
    EXPECT_EQ(DataTypeSize(static_cast<DataType>(i)), sizes[i]);
  }
  EXPECT_EQ(DataTypeSize(static_cast<DataType>(kNumDataTypes)), 0u);
  const char* ops[] = {"sum", "prod", "max", "min", "avg"};
  for (int i = 0; i < kNumRedOps; ++i) {
    EXPECT_STREQ(RedOpName(static_cast<RedOp>(i)), ops[i]);
  }
  EXPECT_STREQ(IsaName(Isa::kScalar), "scalar");
  EXPECT_STREQ(IsaName(Isa::kAvx2), "avx2");
  EXPECT_STREQ(IsaName(Isa::kAvx512), "avx512");
}

}  // namespace
}  // namespace meridian::math
