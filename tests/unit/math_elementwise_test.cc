// The scalar conversions of elementwise.h, which define the fp16/bf16
// results of every kernel (host and CUDA), against hand-computed values and,
// where the CPU has F16C, against the hardware conversion.
#include <gtest/gtest.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <cmath>
#include <cstdint>

#include "collectives/math/elementwise.h"

namespace meridian::math {
namespace {

float Pow2(int e) { return std::ldexp(1.0f, e); }

TEST(MathElementwiseTest, Fp32ToFp16HandComputed) {
  EXPECT_EQ(Fp32ToFp16(1.0f), 0x3C00);
  EXPECT_EQ(Fp32ToFp16(-2.0f), 0xC000);
  EXPECT_EQ(Fp32ToFp16(-0.0f), 0x8000);
  EXPECT_EQ(Fp32ToFp16(65504.0f), 0x7BFF);  // largest finite
  EXPECT_EQ(Fp32ToFp16(65519.99f), 0x7BFF);
  EXPECT_EQ(Fp32ToFp16(65520.0f), 0x7C00);  // the tie above it: to infinity
  EXPECT_EQ(Fp32ToFp16(1e9f), 0x7C00);
  EXPECT_EQ(Fp32ToFp16(-1e9f), 0xFC00);
  EXPECT_EQ(Fp32ToFp16(INFINITY), 0x7C00);
  EXPECT_EQ(Fp32ToFp16(1.0f + Pow2(-11)), 0x3C00);              // tie: even
  EXPECT_EQ(Fp32ToFp16(1.0f + 3 * Pow2(-11)), 0x3C02);          // tie: even
  EXPECT_EQ(Fp32ToFp16(1.0f + Pow2(-11) + Pow2(-20)), 0x3C01);  // above the tie
  // Subnormals, in steps of 2^-24.
  EXPECT_EQ(Fp32ToFp16(Pow2(-24)), 0x0001);
  EXPECT_EQ(Fp32ToFp16(Pow2(-25)), 0x0000);  // tie between 0 and 2^-24: 0
  EXPECT_EQ(Fp32ToFp16(std::nextafter(Pow2(-25), 1.0f)), 0x0001);
  EXPECT_EQ(Fp32ToFp16(1.5f * Pow2(-24)), 0x0002);
  EXPECT_EQ(Fp32ToFp16(2.5f * Pow2(-24)), 0x0002);
  EXPECT_EQ(Fp32ToFp16(-3.5f * Pow2(-24)), 0x8004);
  EXPECT_EQ(Fp32ToFp16(1023.5f * Pow2(-24)), 0x0400);  // rounds up into normals
  EXPECT_EQ(Fp32ToFp16(Pow2(-14)), 0x0400);
  EXPECT_EQ(Fp32ToFp16(Fp32FromBits(0x00000001)), 0x0000);  // fp32 subnormal
  // NaN stays NaN: quieted, sign and top payload bits kept (as F16C does).
  EXPECT_EQ(Fp32ToFp16(Fp32FromBits(0x7FC00000)), 0x7E00);
  EXPECT_EQ(Fp32ToFp16(Fp32FromBits(0xFF800001)), 0xFE00);
  EXPECT_EQ(Fp32ToFp16(Fp32FromBits(0x7FA00000)), 0x7F00);
}

TEST(MathElementwiseTest, Fp16ToFp32HandComputed) {
  EXPECT_EQ(Fp16ToFp32(0x3C00), 1.0f);
  EXPECT_EQ(Fp16ToFp32(0x7BFF), 65504.0f);
  EXPECT_EQ(Fp16ToFp32(0x0001), Pow2(-24));
  EXPECT_EQ(Fp16ToFp32(0x83FF), -1023.0f * Pow2(-24));
  EXPECT_EQ(BitsOf(Fp16ToFp32(0x8000)), 0x80000000u);
  EXPECT_EQ(BitsOf(Fp16ToFp32(0xFC00)), 0xFF800000u);
  EXPECT_EQ(BitsOf(Fp16ToFp32(0x7E00)), 0x7FC00000u);
  EXPECT_EQ(BitsOf(Fp16ToFp32(0x7C01)), 0x7FC02000u);  // sNaN comes back quiet
}

TEST(MathElementwiseTest, Fp16RoundTripsExactly) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = Fp16ToFp32(h);
    if (std::isnan(f)) {
      const uint16_t back = Fp32ToFp16(f);
      EXPECT_EQ(back & 0x7E00, 0x7E00) << std::hex << i;  // still a quiet NaN
      EXPECT_EQ(back, h | 0x0200) << std::hex << i;
    } else {
      ASSERT_EQ(Fp32ToFp16(f), h) << std::hex << i;
    }
  }
}

TEST(MathElementwiseTest, Bfloat16HandComputed) {
  EXPECT_EQ(Fp32ToBf16(1.0f), 0x3F80);
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x3F808000)), 0x3F80);  // tie: even (down)
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x3F818000)), 0x3F82);  // tie: even (up)
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x3F808001)), 0x3F81);
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x3F807FFF)), 0x3F80);
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x7F7FFFFF)), 0x7F80);  // overflow to inf
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x7F7F7FFF)), 0x7F7F);
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x00018000)), 0x0002);  // subnormal, kept
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x00008000)), 0x0000);
  EXPECT_EQ(Fp32ToBf16(-0.0f), 0x8000);
  // A NaN whose payload sits in the low bits must not round into infinity
  // or carry into the sign.
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x7F800001)), 0x7FC0);
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0x7FFFFFFF)), 0x7FFF);
  EXPECT_EQ(Fp32ToBf16(Fp32FromBits(0xFFFFFFFF)), 0xFFFF);
  for (uint32_t i = 0; i < 65536; ++i) {
    const float f = Bf16ToFp32(static_cast<uint16_t>(i));
    if (!std::isnan(f)) {
      ASSERT_EQ(Fp32ToBf16(f), i) << std::hex << i;
    }
  }
}

TEST(MathElementwiseTest, FloatMaxMinSignedZerosAndNaN) {
  EXPECT_EQ(BitsOf(FloatMax(0.0f, -0.0f)), 0u);
  EXPECT_EQ(BitsOf(FloatMax(-0.0f, 0.0f)), 0u);
  EXPECT_EQ(BitsOf(FloatMin(0.0f, -0.0f)), 0x80000000u);
  EXPECT_EQ(BitsOf(FloatMin(-0.0, 0.0)), 0x8000000000000000u);
  EXPECT_EQ(BitsOf(FloatMax(NAN, 1.0f)), kFp32CanonicalNaN);
  EXPECT_EQ(BitsOf(FloatMin(1.0, -static_cast<double>(NAN))),
            kFp64CanonicalNaN);
  EXPECT_EQ(Apply<RedOp::kProd>(int8_t{-128}, int8_t{-1}), int8_t{-128});
  EXPECT_EQ(DivideInt<int32_t>(-7, 2), -3);
}

#if defined(__x86_64__) || defined(__i386__)
// The hardware conversion is the reference the vector kernels rely on; the
// scalar one must agree with it everywhere.  A strided sweep of all fp32
// patterns (plus both neighbours of each) stays fast; an exhaustive sweep was
// run once by hand.
__attribute__((target("f16c"))) uint16_t HardwareFp32ToFp16(float f) {
  return static_cast<uint16_t>(_mm_extract_epi16(
      _mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0));
}
__attribute__((target("f16c"))) float HardwareFp16ToFp32(uint16_t h) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(static_cast<short>(h))));
}

TEST(MathElementwiseTest, Fp16ConversionsMatchF16C) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & bit_F16C) == 0) {
    GTEST_SKIP() << "no F16C on this CPU";
  }
  for (uint64_t u = 0; u < (1ull << 32); u += 1021) {
    for (uint64_t k = u == 0 ? 0 : u - 1; k <= u + 1 && k < (1ull << 32); ++k) {
      const float f = Fp32FromBits(static_cast<uint32_t>(k));
      ASSERT_EQ(Fp32ToFp16(f), HardwareFp32ToFp16(f)) << std::hex << k;
    }
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(BitsOf(Fp16ToFp32(static_cast<uint16_t>(h))),
              BitsOf(HardwareFp16ToFp32(static_cast<uint16_t>(h))))
        << std::hex << h;
  }
}
#endif  // x86

}  // namespace
}  // namespace meridian::math
