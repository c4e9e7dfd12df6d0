// The scalar reference: elementwise.h in a loop.  Built with the baseline
// ISA, it runs everywhere and finishes the tails of the vector kernels.
#include "collectives/math/elementwise.h"
#include "collectives/math/kernels.h"

namespace meridian::math::internal {
namespace {

template <typename S, RedOp op>
void ReduceLoop(void* dst, const void* a, const void* b, size_t count) {
  // Element by element through locals, so dst aliasing a or b is harmless.
  S* d = static_cast<S*>(dst);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  for (size_t i = 0; i < count; ++i) d[i] = ReduceElement<op>(x[i], y[i]);
}

template <typename S>
void DivideLoop(void* dst, size_t count, uint64_t divisor) {
  S* d = static_cast<S*>(dst);
  for (size_t i = 0; i < count; ++i) d[i] = DivideElement(d[i], divisor);
}

template <DataType T>
constexpr void Fill(ScalarKernels& k) {
  using S = typename StorageOf<T>::type;
  k.reduce[Index(T)][Index(RedOp::kSum)] = &ReduceLoop<S, RedOp::kSum>;
  k.reduce[Index(T)][Index(RedOp::kProd)] = &ReduceLoop<S, RedOp::kProd>;
  k.reduce[Index(T)][Index(RedOp::kMax)] = &ReduceLoop<S, RedOp::kMax>;
  k.reduce[Index(T)][Index(RedOp::kMin)] = &ReduceLoop<S, RedOp::kMin>;
  k.reduce[Index(T)][Index(RedOp::kAvg)] = &ReduceLoop<S, RedOp::kSum>;
  k.divide[Index(T)] = &DivideLoop<S>;
}

constexpr ScalarKernels MakeScalarKernels() {
  ScalarKernels k{};
  Fill<DataType::kInt8>(k);
  Fill<DataType::kUint8>(k);
  Fill<DataType::kInt32>(k);
  Fill<DataType::kUint32>(k);
  Fill<DataType::kInt64>(k);
  Fill<DataType::kUint64>(k);
  Fill<DataType::kFloat16>(k);
  Fill<DataType::kFloat32>(k);
  Fill<DataType::kFloat64>(k);
  Fill<DataType::kBfloat16>(k);
  return k;
}

}  // namespace

extern const ScalarKernels kScalarKernels = MakeScalarKernels();

}  // namespace meridian::math::internal
