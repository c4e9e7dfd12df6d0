#include "collectives/op_descriptor.h"

#include "absl/strings/str_cat.h"
#include "transport/wire.h"

namespace meridian::collectives {

using planner::Collective;

transport::OpDescriptor OpSpec::Encode() const {
  transport::OpDescriptor d{};
  d[0] = static_cast<uint8_t>(collective);
  d[1] = static_cast<uint8_t>(dtype);
  d[2] = static_cast<uint8_t>(op);
  transport::StoreLE32(&d[4], static_cast<uint32_t>(root));
  transport::StoreLE64(&d[8], count);
  return d;
}

OpSpec OpSpec::Decode(const transport::OpDescriptor& d) {
  OpSpec s;
  s.collective = static_cast<Collective>(d[0]);
  s.dtype = static_cast<math::DataType>(d[1]);
  s.op = static_cast<math::RedOp>(d[2]);
  s.root = static_cast<int32_t>(transport::LoadLE32(&d[4]));
  s.count = transport::LoadLE64(&d[8]);
  return s;
}

std::string OpSpec::ToString() const {
  // Names come from tables indexed by value; values from the wire may be
  // anything, so print numbers for unknown ones.
  std::string coll = static_cast<uint8_t>(collective) <= 6
                         ? planner::CollectiveName(collective)
                         : absl::StrCat("collective#", static_cast<int>(collective));
  std::string type = math::IsValid(dtype) ? math::DataTypeName(dtype)
                                          : absl::StrCat("dtype#", static_cast<int>(dtype));
  std::string out = absl::StrCat(coll, "(count=", count, ", ", type);
  switch (collective) {
    case Collective::kAllReduce:
    case Collective::kReduceScatter:
      absl::StrAppend(&out, ", ", math::IsValid(op) ? math::RedOpName(op) : "op?");
      break;
    case Collective::kReduce:
      absl::StrAppend(&out, ", ", math::IsValid(op) ? math::RedOpName(op) : "op?",
                      ", root=", root);
      break;
    case Collective::kBroadcast:
      absl::StrAppend(&out, ", root=", root);
      break;
    default:
      break;
  }
  return out + ")";
}

std::string MismatchMessage(int my_rank, const OpSpec& mine, int peer,
                            const OpSpec& theirs, uint64_t op_seq) {
  return absl::StrCat("mismatched collective calls: rank ", peer, " called ",
                      theirs.ToString(), " but rank ", my_rank, " called ",
                      mine.ToString(), " as operation #", op_seq,
                      "; every rank must make the same calls in the same order");
}

}  // namespace meridian::collectives
