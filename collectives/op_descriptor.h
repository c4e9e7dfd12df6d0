// What each rank believes an operation is, carried in every data frame so
// that a peer whose call differs is caught at the first frame, on both
// sides, before any of its data is used.
#ifndef MERIDIAN_COLLECTIVES_OP_DESCRIPTOR_H_
#define MERIDIAN_COLLECTIVES_OP_DESCRIPTOR_H_

#include <cstdint>
#include <string>

#include "collectives/math/types.h"
#include "planner/plan.h"
#include "transport/framing.h"

namespace meridian::collectives {

struct OpSpec {
  planner::Collective collective = planner::Collective::kAllReduce;
  math::DataType dtype = math::DataType::kFloat32;
  math::RedOp op = math::RedOp::kSum;
  int32_t root = 0;
  uint64_t count = 0;  // as passed to the C API

  transport::OpDescriptor Encode() const;
  static OpSpec Decode(const transport::OpDescriptor& d);
  // e.g. "all_reduce(count=100, float, sum)"
  std::string ToString() const;
};

// "rank 2 called all_reduce(count=10, float, sum) but rank 1 called
//  all_reduce(count=12, float, sum) as operation #7"
std::string MismatchMessage(int my_rank, const OpSpec& mine, int peer,
                            const OpSpec& theirs, uint64_t op_seq);

}  // namespace meridian::collectives

#endif  // MERIDIAN_COLLECTIVES_OP_DESCRIPTOR_H_
