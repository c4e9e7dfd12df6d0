#include "planner/fan_in_probe.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

#include "planner/ring_blocks.h"

namespace meridian::planner {

FanIn ChooseFanIn(const Topology& t) {
  for (int r = 0; r < t.peers; ++r) {
    const double ingress = t.ingress(r);
    if (!(ingress > 0)) continue;
    std::vector<int> fast;
    for (int s = 0; s < t.peers; ++s) {
      if (s != r && t.bandwidth(s, r) >= kFanInRateShare * ingress) fast.push_back(s);
    }
    if (fast.size() < 2) continue;
    std::stable_sort(fast.begin(), fast.end(), [&](int a, int b) {
      return t.bandwidth(a, r) > t.bandwidth(b, r);
    });
    if (fast.size() > kMaxFanInSenders) fast.resize(kMaxFanInSenders);
    std::sort(fast.begin(), fast.end());
    return FanIn{r, std::move(fast)};
  }
  return FanIn{};
}

Plan BuildFanInPlan(int rank, int world_size, const FanIn& fan_in,
                    const std::vector<uint64_t>& bytes, int chunks,
                    FanInSteps* steps) {
  assert(bytes.size() == fan_in.senders.size() && chunks >= 1);
  Plan plan;
  plan.collective = Collective::kTransfer;
  plan.rank = rank;
  plan.world_size = world_size;
  *steps = FanInSteps();
  PlanBuilder builder(&plan);
  const uint64_t n_chunks = static_cast<uint64_t>(chunks);
  if (fan_in.valid() && rank == fan_in.receiver) {
    steps->receiver = true;
    for (int s : fan_in.senders) {
      steps->go_sends.push_back(builder.Send(s, {BufferId::kInput, 0}, 1));
    }
    uint64_t at = 0;
    for (size_t i = 0; i < fan_in.senders.size(); ++i) {
      for (uint64_t c = 0; c < n_chunks; ++c) {
        const uint64_t begin = bytes[i] * c / n_chunks, end = bytes[i] * (c + 1) / n_chunks;
        steps->bulk_recvs.push_back(
            builder.Recv(fan_in.senders[i], {BufferId::kOutput, at + begin}, end - begin));
      }
      at += bytes[i];
    }
  } else if (fan_in.valid()) {
    auto it = std::find(fan_in.senders.begin(), fan_in.senders.end(), rank);
    if (it != fan_in.senders.end()) {
      const uint64_t b = bytes[static_cast<size_t>(it - fan_in.senders.begin())];
      const int32_t go = builder.Recv(fan_in.receiver, {BufferId::kOutput, 0}, 1);
      for (uint64_t c = 0; c < n_chunks; ++c) {
        const uint64_t begin = b * c / n_chunks, end = b * (c + 1) / n_chunks;
        builder.Send(fan_in.receiver, {BufferId::kInput, begin}, end - begin, go);
      }
    }
  }
  plan.Finalize();
  return plan;
}

double IncastPenaltyFromFanIn(double ingress_Bps, double aggregate_Bps, int k) {
  if (k < 2 || !(ingress_Bps > 0) || !(aggregate_Bps > 0) || !std::isfinite(ingress_Bps) ||
      !std::isfinite(aggregate_Bps)) {
    return -1;
  }
  const double p = (ingress_Bps / aggregate_Bps - 1) / (k - 1);
  return std::clamp(p, 0.0, 1.0);
}

}  // namespace meridian::planner
