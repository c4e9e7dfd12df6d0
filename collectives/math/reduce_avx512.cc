// AVX-512 kernels (512-bit; F, BW, VL, DQ).  Built with those -m flags;
// reached only through kAvx512Kernels after the dispatcher has checked CPUID.
// Internal linkage and intrinsics only: see kernels.h for why.
//
// Same bits as elementwise.h: canonical NaN results, +0/-0 resolved by AND/OR
// of the bits, fp16/bf16 via fp32 with round-to-nearest-even.  The bf16
// instructions of AVX512_BF16 are not used: they flush subnormals.
#include <immintrin.h>

#include "collectives/math/kernels.h"

namespace meridian::math::internal {
namespace {

constexpr size_t kVecBytes = 64;

template <bool kStream>
inline void Put(char* p, __m512 v) {
  if constexpr (kStream)
    _mm512_stream_ps(reinterpret_cast<float*>(p), v);
  else
    _mm512_storeu_ps(p, v);
}
template <bool kStream>
inline void Put(char* p, __m512d v) {
  if constexpr (kStream)
    _mm512_stream_pd(reinterpret_cast<double*>(p), v);
  else
    _mm512_storeu_pd(p, v);
}
template <bool kStream>
inline void Put(char* p, __m512i v) {
  if constexpr (kStream)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p), v);
  else
    _mm512_storeu_si512(p, v);
}
template <bool kStream>
inline void Put(char* p, __m256i v) {
  if constexpr (kStream)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), v);
  else
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
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

inline __m512 NaNPs() {
  return _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000));
}

inline __m512 CanonPs(__m512 r) {
  return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q), NaNPs());
}

template <RedOp op>
inline __m512 OpPs(__m512 a, __m512 b) {
  if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
    return CanonPs(_mm512_add_ps(a, b));
  } else if constexpr (op == RedOp::kProd) {
    return CanonPs(_mm512_mul_ps(a, b));
  } else {
    // maxps/minps return the second operand for equal inputs (so +0/-0 is
    // order-dependent) and for NaN; both cases are overridden.
    const __mmask16 equal = _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
    __m512 r;
    if constexpr (op == RedOp::kMax) {
      r = _mm512_mask_and_ps(_mm512_max_ps(a, b), equal, a, b);
    } else {
      r = _mm512_mask_or_ps(_mm512_min_ps(a, b), equal, a, b);
    }
    return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q),
                              NaNPs());
  }
}

template <RedOp op>
size_t ReduceF32(void* dst, const void* a, const void* b, size_t count,
                 bool stream) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  return Drive<16, 4>(dst, count, stream, [=](size_t i) {
    return OpPs<op>(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
  });
}

// ---------------------------------------------------------------------------
// fp64

inline __m512d NaNPd() {
  return _mm512_castsi512_pd(_mm512_set1_epi64(0x7FF8000000000000LL));
}

inline __m512d CanonPd(__m512d r) {
  return _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(r, r, _CMP_UNORD_Q), NaNPd());
}

template <RedOp op>
inline __m512d OpPd(__m512d a, __m512d b) {
  if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
    return CanonPd(_mm512_add_pd(a, b));
  } else if constexpr (op == RedOp::kProd) {
    return CanonPd(_mm512_mul_pd(a, b));
  } else {
    const __mmask8 equal = _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ);
    __m512d r;
    if constexpr (op == RedOp::kMax) {
      r = _mm512_mask_and_pd(_mm512_max_pd(a, b), equal, a, b);
    } else {
      r = _mm512_mask_or_pd(_mm512_min_pd(a, b), equal, a, b);
    }
    return _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(a, b, _CMP_UNORD_Q),
                              NaNPd());
  }
}

template <RedOp op>
size_t ReduceF64(void* dst, const void* a, const void* b, size_t count,
                 bool stream) {
  const double* x = static_cast<const double*>(a);
  const double* y = static_cast<const double*>(b);
  return Drive<8, 8>(dst, count, stream, [=](size_t i) {
    return OpPd<op>(_mm512_loadu_pd(x + i), _mm512_loadu_pd(y + i));
  });
}

// ---------------------------------------------------------------------------
// fp16 and bf16, computed in fp32, 16 elements per vector.

inline __m512 LoadF16(const uint16_t* p) {
  return _mm512_cvtph_ps(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m256i NarrowF16(__m512 v) {
  return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

inline __m512 LoadBf16(const uint16_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

// Round-to-nearest-even to the top 16 bits, narrowed to 16 bf16.  Valid only
// for canonical NaNs (a payload in the low bits could carry into the sign);
// every op canonicalises before this.
inline __m256i NarrowBf16(__m512 v) {
  const __m512i x = _mm512_castps_si512(v);
  const __m512i lsb =
      _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i bias = _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(x, bias), 16);
  return _mm512_cvtepi32_epi16(rounded);
}

template <RedOp op>
size_t ReduceF16(void* dst, const void* a, const void* b, size_t count,
                 bool stream) {
  const uint16_t* x = static_cast<const uint16_t*>(a);
  const uint16_t* y = static_cast<const uint16_t*>(b);
  return Drive<16, 2>(dst, count, stream, [=](size_t i) {
    return NarrowF16(OpPs<op>(LoadF16(x + i), LoadF16(y + i)));
  });
}

template <RedOp op>
size_t ReduceBf16(void* dst, const void* a, const void* b, size_t count,
                  bool stream) {
  const uint16_t* x = static_cast<const uint16_t*>(a);
  const uint16_t* y = static_cast<const uint16_t*>(b);
  return Drive<16, 2>(dst, count, stream, [=](size_t i) {
    return NarrowBf16(OpPs<op>(LoadBf16(x + i), LoadBf16(y + i)));
  });
}

// ---------------------------------------------------------------------------
// Integers.  Lane arithmetic wraps by nature; only products need building.

// The low byte of a 16-bit product depends only on the low bytes, so even
// bytes come from a*b directly and odd bytes from the high bytes shifted down.
inline __m512i MulEpi8(__m512i a, __m512i b) {
  const __m512i even = _mm512_mullo_epi16(a, b);
  const __m512i odd =
      _mm512_mullo_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
  return _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi16(0x00FF)),
                         _mm512_slli_epi16(odd, 8));
}

// Low 64 bits of a 64x64 product from three 32x32->64 products (the high
// halves' product only affects bits >= 64).  Measured twice as fast as
// AVX-512DQ's vpmullq, which Intel cores split into three multiply uops.
inline __m512i MulEpi64(__m512i a, __m512i b) {
  const __m512i lo = _mm512_mul_epu32(a, b);
  const __m512i cross =
      _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(a, 32), b),
                       _mm512_mul_epu32(a, _mm512_srli_epi64(b, 32)));
  return _mm512_add_epi64(lo, _mm512_slli_epi64(cross, 32));
}

template <int kBits, bool kSigned, RedOp op>
inline __m512i OpInt(__m512i a, __m512i b) {
  if constexpr (op == RedOp::kSum || op == RedOp::kAvg) {
    if constexpr (kBits == 8) return _mm512_add_epi8(a, b);
    if constexpr (kBits == 32) return _mm512_add_epi32(a, b);
    if constexpr (kBits == 64) return _mm512_add_epi64(a, b);
  } else if constexpr (op == RedOp::kProd) {
    if constexpr (kBits == 8) return MulEpi8(a, b);
    if constexpr (kBits == 32) return _mm512_mullo_epi32(a, b);
    if constexpr (kBits == 64) return MulEpi64(a, b);
  } else if constexpr (op == RedOp::kMax) {
    if constexpr (kBits == 8)
      return kSigned ? _mm512_max_epi8(a, b) : _mm512_max_epu8(a, b);
    if constexpr (kBits == 32)
      return kSigned ? _mm512_max_epi32(a, b) : _mm512_max_epu32(a, b);
    if constexpr (kBits == 64)
      return kSigned ? _mm512_max_epi64(a, b) : _mm512_max_epu64(a, b);
  } else {
    if constexpr (kBits == 8)
      return kSigned ? _mm512_min_epi8(a, b) : _mm512_min_epu8(a, b);
    if constexpr (kBits == 32)
      return kSigned ? _mm512_min_epi32(a, b) : _mm512_min_epu32(a, b);
    if constexpr (kBits == 64)
      return kSigned ? _mm512_min_epi64(a, b) : _mm512_min_epu64(a, b);
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
        return OpInt<kBits, kSigned, op>(_mm512_loadu_si512(x + off),
                                         _mm512_loadu_si512(y + off));
      });
}

// ---------------------------------------------------------------------------
// DivideBy for the floating types; integer division stays scalar (there is
// no vector integer divide, and kAvg over integers is rare).

size_t DivideF32(void* dst, size_t count, uint64_t divisor, bool stream) {
  const float* d = static_cast<const float*>(dst);
  const __m512 v = _mm512_set1_ps(static_cast<float>(divisor));
  return Drive<16, 4>(dst, count, stream, [=](size_t i) {
    return CanonPs(_mm512_div_ps(_mm512_loadu_ps(d + i), v));
  });
}

size_t DivideF64(void* dst, size_t count, uint64_t divisor, bool stream) {
  const double* d = static_cast<const double*>(dst);
  const __m512d v = _mm512_set1_pd(static_cast<double>(divisor));
  return Drive<8, 8>(dst, count, stream, [=](size_t i) {
    return CanonPd(_mm512_div_pd(_mm512_loadu_pd(d + i), v));
  });
}

size_t DivideF16(void* dst, size_t count, uint64_t divisor, bool stream) {
  const uint16_t* d = static_cast<const uint16_t*>(dst);
  const __m512 v = _mm512_set1_ps(static_cast<float>(divisor));
  return Drive<16, 2>(dst, count, stream, [=](size_t i) {
    return NarrowF16(CanonPs(_mm512_div_ps(LoadF16(d + i), v)));
  });
}

size_t DivideBf16(void* dst, size_t count, uint64_t divisor, bool stream) {
  const uint16_t* d = static_cast<const uint16_t*>(dst);
  const __m512 v = _mm512_set1_ps(static_cast<float>(divisor));
  return Drive<16, 2>(dst, count, stream, [=](size_t i) {
    return NarrowBf16(CanonPs(_mm512_div_ps(LoadBf16(d + i), v)));
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

extern const VectorKernels kAvx512Kernels = MakeKernels();

}  // namespace meridian::math::internal
