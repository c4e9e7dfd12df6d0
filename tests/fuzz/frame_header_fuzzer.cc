// DecodeFrameHeader on any 48 bytes, under the default limits and tight
// ones like the handshake's.  An accepted header must respect the limits
// and re-encode to exactly the bytes it came from: every byte of the header
// is a field, so a decoder that drops or reshapes one would lose data.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tests/fuzz/fuzz_check.h"
#include "transport/framing.h"

namespace {

using meridian::transport::DecodeFrameHeader;
using meridian::transport::EncodeFrameHeader;
using meridian::transport::FrameHeader;
using meridian::transport::FrameLimits;
using meridian::transport::FrameType;
using meridian::transport::kFrameHeaderSize;

void Check(const uint8_t* in, const FrameLimits& limits) {
  absl::StatusOr<FrameHeader> h = DecodeFrameHeader(in, limits);
  if (!h.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(h.status()));
    return;
  }
  uint32_t limit = h->type == FrameType::kData ? limits.max_data_payload
                                               : limits.max_control_payload;
  FUZZ_CHECK(h->length <= limit);
  FUZZ_CHECK(h->offset <= (uint64_t{1} << 62));
  uint8_t out[kFrameHeaderSize];
  EncodeFrameHeader(*h, out);
  FUZZ_CHECK(std::memcmp(in, out, kFrameHeaderSize) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The decoder takes a fixed-size array; shorter inputs are zero-padded so
  // that the fuzzer still reaches it while it learns the magic.
  uint8_t in[kFrameHeaderSize] = {};
  std::memcpy(in, data, size < kFrameHeaderSize ? size : kFrameHeaderSize);
  Check(in, FrameLimits{});
  Check(in, FrameLimits{0, 4096});
  return 0;
}
