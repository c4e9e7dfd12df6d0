// Transfer plans: point-to-point copies of one whole buffer chosen by the
// caller (shared-state sync), as Plan IR for the executor.
#ifndef MERIDIAN_PLANNER_TRANSFER_H_
#define MERIDIAN_PLANNER_TRANSFER_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "planner/plan.h"

namespace meridian::planner {

// For every (src_rank, dst_rank) in `copies`: src sends its whole kInput
// buffer (count_elems elements, cut in chunks of chunk_elems) to dst, which
// receives it into its kOutput buffer at the same offsets.  Ranks that
// appear in no copy get an empty plan.  Every rank must pass the same
// `copies` in the same order: that order is the message order, so the
// pairing rule of plan.h holds.  A zero-element copy is still one (empty)
// message, so the receiver checks the sender's call.
Plan BuildTransferPlan(int rank, int world_size, uint64_t count_elems,
                       const std::vector<std::pair<int, int>>& copies,
                       uint64_t chunk_elems);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_TRANSFER_H_
