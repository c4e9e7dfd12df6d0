// AVX2 + F16C kernels (256-bit).  Built with -mavx2 -mf16c; reached only
// through kAvx2Kernels after the dispatcher has checked CPUID.  Everything
// here has internal linkage and uses only intrinsics: see kernels.h for why.
//
// Each kernel must give the bits of elementwise.h: NaN results are replaced
// by the canonical quiet NaN, max/min resolve +0/-0 by AND/OR of the bits,
// fp16/bf16 go through fp32 and round to nearest-even.
#include <immintrin.h>

#include "collectives/math/kernels.h"

namespace meridian::math::internal {
namespace {

constexpr size_t kVecBytes = 32;

template <bool kStream>
inline void Put(char* p, __m256 v) {
  if constexpr (kStream)
    _mm256_stream_ps(reinterpret_cast<float*>(p), v);
  else
    _mm256_storeu_ps(reinterpret_cast<float*>(p), v);
}
template <bool kStream>
inline void Put(char* p, __m256d v) {
  if constexpr (kStream)
    _mm256_stream_pd(reinterpret_cast<double*>(p), v);
  else
    _mm256_storeu_pd(reinterpret_cast<double*>(p), v);
}
template <bool kStream>
inline void Put(char* p, __m256i v) {
  if constexpr (kStream)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), v);
  else
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}
template <bool kStream>
inline void Put(char* p, __m128i v) {
  if constexpr (kStream)
    _mm_stream_si128(reinterpret_cast<__m128i*>(p), v);
  else
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
}

// compute(i) loads and combines elements [i, i + kWidth) into one vector,
// which is stored at element i of dst.  Four independent vectors per
// iteration keep enough loads in flight to saturate memory; then single
// vectors; the scalar kernel does the rest.  Streaming stores are weakly
// ordered, hence the fence before anyone may look at the result.
template <bool kStream, size_t kWidth, size_t kElemBytes, typename Compute>
inline size_t Loop(char* d, size_t count, Compute compute) {
  constexpr size_t kStep = kWidth * kElemBytes;
  size_t i = 0;
  for (; i + 4 * kWidth <= count; i += 4 * kWidth) {
    char* p = d + i * kElemBytes;
    Put<kStream>(p, compute(i));
    Put<kStream>(p + kStep, compute(i + kWidth));
    Put<kStream>(p + 2 * kStep, compute(i + 2 * kWidth));
    Put<kStream>(p + 3 * kStep, compute(i + 3 * kWidth));
  }
  for (; i + kWidth <= count; i += kWidth)
    Put<kStream>(d + i * kElemBytes, compute(i));
  if constexpr (kStream) _mm_sfence();
  return i;
}

template <size_t kWidth, size_t kElemBytes, typename Compute>
inline size_t Drive(void* dst, size_t count, bool stream, Compute compute) {
  char* d = static_cast<char*>(dst);
  return stream ? Loop<true, kWidth, kElemBytes>(d, count, compute)
                : Loop<false, kWidth, kElemBytes>(d, count, compute);
}

// ---------------------------------------------------------------------------
// fp32

inline __m256 NaNPs() {
  return _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000));
}

inline __m256 CanonPs(__m256 r) {
  return _mm256_blendv_ps(r, NaNPs(), _mm256_cmp_ps(r, r, _CMP_UNORD_Q));
}

template <RedOp op>
inline __m256 OpPs(__m256 a, __m256 b) {
  if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
    return CanonPs(_mm256_add_ps(a, b));
  } else if constexpr (op == RedOp::kProd) {
    return CanonPs(_mm256_mul_ps(a, b));
  } else {
    // maxps/minps return the second operand for equal inputs (so +0/-0 is
    // order-dependent) and for NaN; both cases are overridden.
    const bool is_max = op == RedOp::kMax;
    __m256 r = is_max ? _mm256_max_ps(a, b) : _mm256_min_ps(a, b);
    const __m256 equal = _mm256_cmp_ps(a, b, _CMP_EQ_OQ);
    r = _mm256_blendv_ps(r, is_max ? _mm256_and_ps(a, b) : _mm256_or_ps(a, b),
                         equal);
    return _mm256_blendv_ps(r, NaNPs(), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
  }
}

template <RedOp op>
size_t ReduceF32(void* dst, const void* a, const void* b, size_t count,
                 bool stream) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  return Drive<8, 4>(dst, count, stream, [=](size_t i) {
    return OpPs<op>(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
  });
}

// ---------------------------------------------------------------------------
// fp64

inline __m256d NaNPd() {
  return _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FF8000000000000LL));
}

inline __m256d CanonPd(__m256d r) {
  return _mm256_blendv_pd(r, NaNPd(), _mm256_cmp_pd(r, r, _CMP_UNORD_Q));
}

template <RedOp op>
inline __m256d OpPd(__m256d a, __m256d b) {
  if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
    return CanonPd(_mm256_add_pd(a, b));
  } else if constexpr (op == RedOp::kProd) {
    return CanonPd(_mm256_mul_pd(a, b));
  } else {
    const bool is_max = op == RedOp::kMax;
    __m256d r = is_max ? _mm256_max_pd(a, b) : _mm256_min_pd(a, b);
    const __m256d equal = _mm256_cmp_pd(a, b, _CMP_EQ_OQ);
    r = _mm256_blendv_pd(r, is_max ? _mm256_and_pd(a, b) : _mm256_or_pd(a, b),
                         equal);
    return _mm256_blendv_pd(r, NaNPd(), _mm256_cmp_pd(a, b, _CMP_UNORD_Q));
  }
}

template <RedOp op>
size_t ReduceF64(void* dst, const void* a, const void* b, size_t count,
                 bool stream) {
  const double* x = static_cast<const double*>(a);
  const double* y = static_cast<const double*>(b);
  return Drive<4, 8>(dst, count, stream, [=](size_t i) {
    return OpPd<op>(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i));
  });
}

// ---------------------------------------------------------------------------
// fp16 and bf16, computed in fp32.

inline __m256 LoadF16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m128i NarrowF16(__m256 v) {
  return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

inline __m256 LoadBf16(const uint16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

// Round-to-nearest-even to the top 16 bits, left in the low half of each
// 32-bit lane.  Valid only for canonical NaNs (a payload in the low bits
// could carry into the sign); every op canonicalises before this.
inline __m256i RoundBf16(__m256 v) {
  const __m256i x = _mm256_castps_si256(v);
  const __m256i lsb =
      _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i bias = _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF));
  return _mm256_srli_epi32(_mm256_add_epi32(x, bias), 16);
}

// Packs two vectors of rounded lanes into 16 bf16 in order.  packus works
// per 128-bit lane, so the quadwords come out as lo0 hi0 lo1 hi1.
inline __m256i PackBf16x2(__m256i lo, __m256i hi) {
  return _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
}

template <RedOp op>
size_t ReduceF16(void* dst, const void* a, const void* b, size_t count,
                 bool stream) {
  const uint16_t* x = static_cast<const uint16_t*>(a);
  const uint16_t* y = static_cast<const uint16_t*>(b);
  return Drive<8, 2>(dst, count, stream, [=](size_t i) {
    return NarrowF16(OpPs<op>(LoadF16(x + i), LoadF16(y + i)));
  });
}

template <RedOp op>
size_t ReduceBf16(void* dst, const void* a, const void* b, size_t count,
                  bool stream) {
  const uint16_t* x = static_cast<const uint16_t*>(a);
  const uint16_t* y = static_cast<const uint16_t*>(b);
  return Drive<16, 2>(dst, count, stream, [=](size_t i) {
    const __m256i lo = RoundBf16(OpPs<op>(LoadBf16(x + i), LoadBf16(y + i)));
    const __m256i hi =
        RoundBf16(OpPs<op>(LoadBf16(x + i + 8), LoadBf16(y + i + 8)));
    return PackBf16x2(lo, hi);
  });
}

// ---------------------------------------------------------------------------
// Integers.  Lane arithmetic wraps by nature; only products narrower than a
// native multiply and 64-bit products and comparisons need building.

// 8-bit lanes: multiply as 16-bit lanes.  The low byte of a 16-bit product
// depends only on the low bytes, so even bytes come from a*b directly and odd
// bytes from the high bytes shifted down.
inline __m256i MulEpi8(__m256i a, __m256i b) {
  const __m256i even = _mm256_mullo_epi16(a, b);
  const __m256i odd =
      _mm256_mullo_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
  return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi16(0x00FF)),
                         _mm256_slli_epi16(odd, 8));
}

// Low 64 bits of a 64x64 product from three 32x32->64 products; the high
// halves' product only affects bits >= 64.
inline __m256i MulEpi64(__m256i a, __m256i b) {
  const __m256i lo = _mm256_mul_epu32(a, b);
  const __m256i cross =
      _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                       _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
  return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

// a > b on 64-bit lanes; unsigned compares flip the sign bits first.
template <bool kSigned>
inline __m256i GreaterEpi64(__m256i a, __m256i b) {
  if constexpr (kSigned) {
    return _mm256_cmpgt_epi64(a, b);
  } else {
    const __m256i flip =
        _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ULL));
    return _mm256_cmpgt_epi64(_mm256_xor_si256(a, flip),
                              _mm256_xor_si256(b, flip));
  }
}

template <int kBits, bool kSigned, RedOp op>
inline __m256i OpInt(__m256i a, __m256i b) {
  if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
    if constexpr (kBits == 8) return _mm256_add_epi8(a, b);
    if constexpr (kBits == 32) return _mm256_add_epi32(a, b);
    if constexpr (kBits == 64) return _mm256_add_epi64(a, b);
  } else if constexpr (op == RedOp::kProd) {
    if constexpr (kBits == 8) return MulEpi8(a, b);
    if constexpr (kBits == 32) return _mm256_mullo_epi32(a, b);
    if constexpr (kBits == 64) return MulEpi64(a, b);
  } else if constexpr (op == RedOp::kMax) {
    if constexpr (kBits == 8)
      return kSigned ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
    if constexpr (kBits == 32)
      return kSigned ? _mm256_max_epi32(a, b) : _mm256_max_epu32(a, b);
    if constexpr (kBits == 64)
      return _mm256_blendv_epi8(b, a, GreaterEpi64<kSigned>(a, b));
  } else {
    if constexpr (kBits == 8)
      return kSigned ? _mm256_min_epi8(a, b) : _mm256_min_epu8(a, b);
    if constexpr (kBits == 32)
      return kSigned ? _mm256_min_epi32(a, b) : _mm256_min_epu32(a, b);
    if constexpr (kBits == 64)
      return _mm256_blendv_epi8(a, b, GreaterEpi64<kSigned>(a, b));
  }
}

template <int kBits, bool kSigned, RedOp op>
size_t ReduceInt(void* dst, const void* a, const void* b, size_t count,
                 bool stream) {
  // Byte pointers: the lane width lives in OpInt, the loop only strides.
  constexpr size_t kElemBytes = kBits / 8;
  const char* x = static_cast<const char*>(a);
  const char* y = static_cast<const char*>(b);
  return Drive<kVecBytes / kElemBytes, kElemBytes>(
      dst, count, stream, [=](size_t i) {
        const size_t off = i * kElemBytes;
        const __m256i va =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + off));
        const __m256i vb =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + off));
        return OpInt<kBits, kSigned, op>(va, vb);
      });
}

// ---------------------------------------------------------------------------
// DivideBy for the floating types; integer division stays scalar (there is
// no vector integer divide, and kAvg over integers is rare).

size_t DivideF32(void* dst, size_t count, uint64_t divisor, bool stream) {
  const float* d = static_cast<const float*>(dst);
  const __m256 v = _mm256_set1_ps(static_cast<float>(divisor));
  return Drive<8, 4>(dst, count, stream, [=](size_t i) {
    return CanonPs(_mm256_div_ps(_mm256_loadu_ps(d + i), v));
  });
}

size_t DivideF64(void* dst, size_t count, uint64_t divisor, bool stream) {
  const double* d = static_cast<const double*>(dst);
  const __m256d v = _mm256_set1_pd(static_cast<double>(divisor));
  return Drive<4, 8>(dst, count, stream, [=](size_t i) {
    return CanonPd(_mm256_div_pd(_mm256_loadu_pd(d + i), v));
  });
}

size_t DivideF16(void* dst, size_t count, uint64_t divisor, bool stream) {
  const uint16_t* d = static_cast<const uint16_t*>(dst);
  const __m256 v = _mm256_set1_ps(static_cast<float>(divisor));
  return Drive<8, 2>(dst, count, stream, [=](size_t i) {
    return NarrowF16(CanonPs(_mm256_div_ps(LoadF16(d + i), v)));
  });
}

size_t DivideBf16(void* dst, size_t count, uint64_t divisor, bool stream) {
  const uint16_t* d = static_cast<const uint16_t*>(dst);
  const __m256 v = _mm256_set1_ps(static_cast<float>(divisor));
  return Drive<16, 2>(dst, count, stream, [=](size_t i) {
    const __m256i lo = RoundBf16(CanonPs(_mm256_div_ps(LoadBf16(d + i), v)));
    const __m256i hi =
        RoundBf16(CanonPs(_mm256_div_ps(LoadBf16(d + i + 8), v)));
    return PackBf16x2(lo, hi);
  });
}

// ---------------------------------------------------------------------------

// The argument is a template name, which cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define MDN_FILL_FLOAT_OPS(table, type, kernel)        \
  do {                                                 \
    auto* row = (table).reduce[Index(DataType::type)]; \
    row[Index(RedOp::kSum)] = &kernel<RedOp::kSum>;    \
    row[Index(RedOp::kProd)] = &kernel<RedOp::kProd>;  \
    row[Index(RedOp::kMax)] = &kernel<RedOp::kMax>;    \
    row[Index(RedOp::kMin)] = &kernel<RedOp::kMin>;    \
    row[Index(RedOp::kAvg)] = &kernel<RedOp::kSum>;    \
  } while (0)
// NOLINTEND(bugprone-macro-parentheses)

template <int kBits, bool kSigned>
constexpr void FillIntOps(VectorKernels& k, DataType type) {
  auto* row = k.reduce[Index(type)];
  row[Index(RedOp::kSum)] = &ReduceInt<kBits, kSigned, RedOp::kSum>;
  row[Index(RedOp::kProd)] = &ReduceInt<kBits, kSigned, RedOp::kProd>;
  row[Index(RedOp::kMax)] = &ReduceInt<kBits, kSigned, RedOp::kMax>;
  row[Index(RedOp::kMin)] = &ReduceInt<kBits, kSigned, RedOp::kMin>;
  row[Index(RedOp::kAvg)] = &ReduceInt<kBits, kSigned, RedOp::kSum>;
}

constexpr VectorKernels MakeKernels() {
  VectorKernels k{};
  MDN_FILL_FLOAT_OPS(k, kFloat32, ReduceF32);
  MDN_FILL_FLOAT_OPS(k, kFloat64, ReduceF64);
  MDN_FILL_FLOAT_OPS(k, kFloat16, ReduceF16);
  MDN_FILL_FLOAT_OPS(k, kBfloat16, ReduceBf16);
  FillIntOps<8, true>(k, DataType::kInt8);
  FillIntOps<8, false>(k, DataType::kUint8);
  FillIntOps<32, true>(k, DataType::kInt32);
  FillIntOps<32, false>(k, DataType::kUint32);
  FillIntOps<64, true>(k, DataType::kInt64);
  FillIntOps<64, false>(k, DataType::kUint64);
  k.divide[Index(DataType::kFloat32)] = &DivideF32;
  k.divide[Index(DataType::kFloat64)] = &DivideF64;
  k.divide[Index(DataType::kFloat16)] = &DivideF16;
  k.divide[Index(DataType::kBfloat16)] = &DivideBf16;
  return k;
}

#undef MDN_FILL_FLOAT_OPS

}  // namespace

extern const VectorKernels kAvx2Kernels = MakeKernels();

}  // namespace meridian::math::internal
