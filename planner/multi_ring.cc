#include "planner/multi_ring.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "planner/ring_blocks.h"

namespace meridian::planner {

std::vector<uint64_t> SplitByWeights(uint64_t count, const std::vector<double>& weights) {
  const size_t k = weights.size();
  std::vector<uint64_t> parts(k, 0);
  if (k == 0) return parts;
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> remainder(k, 0.0);
  uint64_t given = 0;
  for (size_t i = 0; i < k; ++i) {
    const double exact = static_cast<double>(count) * (weights[i] / total);
    const double floor = std::floor(exact);
    // Rounding of huge counts may overshoot: never hand out more than count.
    uint64_t v = floor >= static_cast<double>(count) ? count : static_cast<uint64_t>(floor);
    v = std::min(v, count - given);
    parts[i] = v;
    given += v;
    remainder[i] = exact - floor;
  }
  std::vector<size_t> by_remainder(k);
  std::iota(by_remainder.begin(), by_remainder.end(), 0);
  std::stable_sort(by_remainder.begin(), by_remainder.end(),
                   [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (size_t j = 0; given < count; j = (j + 1) % k) {
    ++parts[by_remainder[j]];
    ++given;
  }
  if (count >= k) {
    for (size_t i = 0; i < k; ++i) {
      if (parts[i] > 0) continue;
      const size_t largest = static_cast<size_t>(
          std::max_element(parts.begin(), parts.end()) - parts.begin());
      --parts[largest];
      ++parts[i];
    }
  }
  return parts;
}

absl::Status ValidateRings(const std::vector<std::vector<int32_t>>& rings,
                           const std::vector<double>& weights, int world_size) {
  if (rings.empty() || rings.size() > static_cast<size_t>(kMaxRings)) {
    return absl::InvalidArgumentError(
        absl::StrCat(rings.size(), " rings; between 1 and ", kMaxRings, " are supported"));
  }
  if (weights.size() != rings.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(weights.size(), " weights for ", rings.size(), " rings"));
  }
  for (size_t i = 0; i < rings.size(); ++i) {
    if (!(weights[i] > 0) || !std::isfinite(weights[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ring ", i, " has weight ", weights[i], "; weights must be positive"));
    }
    if (rings[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("ring ", i, " is empty"));
    }
    absl::Status s = ValidateOrder(rings[i], world_size);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("ring ", i, ": ", s.message()));
  }
  return absl::OkStatus();
}

Plan BuildMultiRingPlan(const PlanRequest& req, const std::vector<std::vector<int32_t>>& rings,
                        const std::vector<double>& weights) {
  assert(req.world_size >= 1 && req.rank >= 0 && req.rank < req.world_size);
  assert(req.chunk_elems >= 1);
  assert(ValidateRings(rings, weights, req.world_size).ok());
  if (req.collective != Collective::kAllReduce || req.world_size == 1) {
    PlanRequest ring = req;
    ring.order = rings[0];
    return BuildRingPlan(ring);
  }
  Plan plan;
  plan.collective = req.collective;
  plan.rank = req.rank;
  plan.world_size = req.world_size;
  PlanBuilder b(&plan);
  const std::vector<uint64_t> parts = SplitByWeights(req.count, weights);
  // Each ring receive-reduces from its own predecessor: a share of the
  // staging slots each keeps one ring from starving another.
  const int window = rings.size() > 1 ? kStagingSlots / static_cast<int>(rings.size()) : 0;
  uint64_t offset = 0;
  for (size_t i = 0; i < rings.size(); ++i) {
    const RingMembers ring{&rings[i], PositionOf(rings[i], req.rank)};
    AppendRingAllReduce(ring, offset, parts[i], req.chunk_elems, req.in_place, req.average,
                        window, &b);
    offset += parts[i];
  }
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
