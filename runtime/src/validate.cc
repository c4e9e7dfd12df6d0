#include "runtime/src/validate.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "collectives/math/types.h"

namespace meridian::runtime {

using planner::Collective;

namespace {

// No buffer may exceed this: it keeps every byte offset representable in
// the wire format and in ptrdiff_t.
constexpr uint64_t kMaxBufferBytes = uint64_t{1} << 50;

bool Overlap(const void* a, uint64_t a_len, const void* b, uint64_t b_len) {
  auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return a_len > 0 && b_len > 0 && pa < pb + b_len && pb < pa + a_len;
}

}  // namespace

absl::StatusOr<OpArgs> ValidateOp(int rank, int world_size,
                                  const collectives::OpSpec& spec,
                                  const void* sendbuf, void* recvbuf) {
  const char* name = planner::CollectiveName(spec.collective);
  if (spec.collective == Collective::kBarrier) {
    OpArgs args;  // runs on the request's own one-byte buffers
    args.spec = spec;
    return args;
  }
  if (!math::IsValid(spec.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": unknown data type ", static_cast<int>(spec.dtype), " (valid: 0..",
        math::kNumDataTypes - 1, ")"));
  }
  if (!math::IsValid(spec.op)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": unknown reduction op ", static_cast<int>(spec.op), " (valid: 0..",
        math::kNumRedOps - 1, ")"));
  }
  const bool rooted = spec.collective == Collective::kBroadcast ||
                      spec.collective == Collective::kReduce;
  if (rooted && (spec.root < 0 || spec.root >= world_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": root ", spec.root, " is out of range for world size ", world_size));
  }
  const uint64_t esize = math::DataTypeSize(spec.dtype);
  // Elements in the send and receive buffers of this rank.
  uint64_t send_elems = spec.count, recv_elems = spec.count;
  const uint64_t n = static_cast<uint64_t>(world_size);
  if (spec.count > kMaxBufferBytes / esize / n) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": count ", spec.count, " of ", math::DataTypeName(spec.dtype),
        " is too large (buffer size overflows)"));
  }
  if (spec.collective == Collective::kAllGather) recv_elems = spec.count * n;
  if (spec.collective == Collective::kReduceScatter) send_elems = spec.count * n;
  bool needs_send = true, needs_recv = true;
  if (spec.collective == Collective::kBroadcast) needs_send = rank == spec.root;
  if (spec.collective == Collective::kReduce) needs_recv = rank == spec.root;
  if (spec.count > 0 && needs_send && sendbuf == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": sendbuf is NULL with count ", spec.count));
  }
  if (spec.count > 0 && needs_recv && recvbuf == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": recvbuf is NULL with count ", spec.count));
  }

  OpArgs args;
  args.spec = spec;
  args.input = sendbuf;
  args.output = recvbuf;
  const auto* s = static_cast<const uint8_t*>(sendbuf);
  auto* r = static_cast<uint8_t*>(recvbuf);
  switch (spec.collective) {
    case Collective::kAllGather:
      args.in_place = s != nullptr && s == r + rank * spec.count * esize;
      break;
    case Collective::kReduceScatter:
      args.in_place = r != nullptr && r == s + rank * spec.count * esize;
      break;
    default:
      args.in_place = s == r;
      break;
  }
  if (spec.count > 0 && needs_send && needs_recv && !args.in_place &&
      Overlap(s, send_elems * esize, r, recv_elems * esize)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": sendbuf and recvbuf overlap without being the in-place layout"));
  }
  // Where the receive buffer is unused, make it the send buffer so a NULL
  // never reaches the executor.
  if (!needs_recv) {
    args.output = const_cast<void*>(sendbuf);
    args.in_place = true;
  }
  return args;
}

}  // namespace meridian::runtime
