// FrameAssembler, the coordinator's reassembler of control frames from a
// non-blocking socket, fed a byte stream in pieces the fuzzer sizes, read
// the way the server reads: never more than wanted().  Every message it
// yields must re-encode to a frame of the same length it took from the
// stream, and wanted() must stay within one frame under the limits, which
// is what keeps a hostile peer from making the coordinator buffer more.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/coordinator/protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "transport/framing.h"

using namespace meridian::coordinator;  // NOLINT: a test of this namespace
using meridian::transport::kFrameHeaderSize;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const meridian::transport::FrameLimits limits = kPeerToCoordinatorLimits;
  FrameAssembler assembler(limits);
  size_t taken = 0;  // bytes appended since the last message came out
  while (fdp.remaining_bytes() > 0) {
    size_t wanted = assembler.wanted();
    FUZZ_CHECK(wanted >= 1);
    FUZZ_CHECK(wanted <= kFrameHeaderSize + limits.max_control_payload);
    size_t n = std::min(wanted, fdp.ConsumeIntegralInRange<size_t>(1, 256));
    std::vector<uint8_t> piece = fdp.ConsumeBytes<uint8_t>(n);
    assembler.Append(piece.data(), piece.size());
    taken += piece.size();
    absl::StatusOr<std::optional<ControlMessage>> next = assembler.Next();
    if (!next.ok()) {
      // The server drops the connection here; so does this stream.
      FUZZ_CHECK(absl::IsInvalidArgument(next.status()));
      return 0;
    }
    if (next->has_value()) {
      std::vector<uint8_t> frame = EncodeFrame(**next);
      FUZZ_CHECK(frame.size() == taken);
      FUZZ_CHECK(frame.size() - kFrameHeaderSize <= limits.max_control_payload);
      // Reading at most wanted() leaves nothing of the next frame behind.
      FUZZ_CHECK(assembler.wanted() == kFrameHeaderSize);
      taken = 0;
    }
  }
  return 0;
}
