// The payload decoders of the peer-to-peer HELLO exchange (hello, reply,
// confirm).  The first byte picks the decoder (mod 3), so one corpus holds
// every kind of seed.  An accepted
// payload must re-encode to exactly itself (the layout is exact: trailing
// bytes are refused), and CheckHello must not trip on any decoded value.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "transport/framing.h"
#include "transport/tcp/tcp_handshake.h"

namespace {

using namespace meridian::transport;  // NOLINT: a test of this namespace

// The encoders return whole frames; their payload must be what came in, and
// their header must pass the limits the receiving side applies.
void CheckFrame(const std::vector<uint8_t>& frame,
                const std::vector<uint8_t>& payload) {
  FUZZ_CHECK(frame.size() == kFrameHeaderSize + payload.size());
  absl::StatusOr<FrameHeader> h =
      DecodeFrameHeader(frame.data(), kHandshakeLimits);
  FUZZ_CHECK(h.ok());
  FUZZ_CHECK(h->type == FrameType::kHello);
  FUZZ_CHECK(h->length == payload.size());
  FUZZ_CHECK(std::memcmp(frame.data() + kFrameHeaderSize, payload.data(),
                         payload.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> payload(data + 1, data + size);
  switch (data[0] % 3) {
    case 0: {
      absl::StatusOr<Hello> hello = DecodeHello(payload);
      if (!hello.ok()) {
        FUZZ_CHECK(absl::IsInvalidArgument(hello.status()));
        return 0;
      }
      CheckFrame(EncodeHelloFrame(*hello), payload);
      // Both MACs bind the identity fields exactly as they were sent: the
      // payload up to its trailing nonce.
      std::vector<uint8_t> context = HelloAuthContext(*hello);
      FUZZ_CHECK(context.size() + kNonceBytes == payload.size());
      FUZZ_CHECK(std::equal(context.begin(), context.end(), payload.begin()));
      // The acceptor's verdict formats the dialer's values into its refusal.
      MeshSpec spec;
      spec.group_id = hello->group_id;
      spec.epoch = hello->epoch;
      spec.rank = hello->to_rank;
      spec.world_size = 4;
      spec.options.connections_per_peer = 2;
      bool auth = false;
      (void)CheckHello(*hello, spec, &auth);
      return 0;
    }
    case 1: {
      absl::StatusOr<HelloReply> reply = DecodeHelloReply(payload);
      if (!reply.ok()) {
        FUZZ_CHECK(absl::IsInvalidArgument(reply.status()));
        return 0;
      }
      FUZZ_CHECK(reply->reason.size() <= 1024);
      FUZZ_CHECK(!(reply->accepted && reply->auth_refused));
      CheckFrame(EncodeHelloReplyFrame(*reply), payload);
      return 0;
    }
    default: {
      absl::StatusOr<HelloConfirm> confirm = DecodeHelloConfirm(payload);
      if (!confirm.ok()) {
        FUZZ_CHECK(absl::IsInvalidArgument(confirm.status()));
        return 0;
      }
      CheckFrame(EncodeHelloConfirmFrame(*confirm), payload);
      return 0;
    }
  }
}
