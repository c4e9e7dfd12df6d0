#include "runtime/src/compute_calibration.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "collectives/math/reduce.h"

namespace meridian::runtime {

namespace {
constexpr size_t kBytes = 16u << 20;  // beyond the last-level caches here
constexpr int kRuns = 3;

template <typename F>
double BestSeconds(F&& f) {
  double best = 1e9;
  for (int i = 0; i < kRuns; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - t0).count());
  }
  return std::max(best, 1e-9);
}
}  // namespace

ComputeRates MeasureComputeRates() {
  std::vector<float> a(kBytes / sizeof(float), 1.0f), b(a.size(), 2.0f), dst(a.size());
  ComputeRates r;
  r.reduce_Bps = kBytes / BestSeconds([&] {
    math::Reduce(math::DataType::kFloat32, math::RedOp::kSum, dst.data(), a.data(), b.data(),
                 a.size());
  });
  r.copy_Bps = kBytes / BestSeconds([&] { std::memcpy(dst.data(), a.data(), kBytes); });
  return r;
}

}  // namespace meridian::runtime
