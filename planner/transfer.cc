#include "planner/transfer.h"

#include <algorithm>

namespace meridian::planner {

Plan BuildTransferPlan(int rank, int world_size, uint64_t count_elems,
                       const std::vector<std::pair<int, int>>& copies,
                       uint64_t chunk_elems) {
  Plan plan;
  plan.collective = Collective::kTransfer;
  plan.rank = rank;
  plan.world_size = world_size;
  const uint64_t chunk = std::max<uint64_t>(1, chunk_elems);
  const uint64_t chunks = std::max<uint64_t>(1, (count_elems + chunk - 1) / chunk);
  auto add = [&](StepKind kind, int peer) {
    for (uint64_t c = 0; c < chunks; ++c) {
      const uint64_t begin = std::min(count_elems, c * chunk);
      Step s;
      s.kind = kind;
      s.peer = peer;
      s.src = {BufferId::kInput, begin};
      s.dst = {BufferId::kOutput, begin};
      s.count = std::min(count_elems, begin + chunk) - begin;
      plan.steps.push_back(s);
    }
  };
  for (const auto& [src, dst] : copies) {
    if (src == dst) continue;  // nothing to move
    if (src == rank) add(StepKind::kSend, dst);
    if (dst == rank) add(StepKind::kRecv, src);
  }
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
