// DecodePayload, the decoder of every coordinator message (the first byte
// of a payload is its MsgType, so the fuzzer reaches each message from one
// target).  An accepted message must satisfy the decoder's own range
// promises and re-encode to exactly its input; the one field allowed to
// change is an ERROR's status code, which the decoder maps to kUnknown when
// this build does not know it, and that must then be stable.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "runtime/coordinator/protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "transport/framing.h"

namespace {

using namespace meridian::coordinator;  // NOLINT: a test of this namespace

// Pairs of n peers, each once in increasing order, every value measured.
void CheckLinks(const LinkMatrix& links, int n) {
  FUZZ_CHECK(links.pairs.size() <= kMaxLinkPairs);
  FUZZ_CHECK(std::isfinite(links.gamma_Bps) && links.gamma_Bps >= 0);
  FUZZ_CHECK(std::isfinite(links.mem_Bps) && links.mem_Bps >= 0);
  for (size_t i = 0; i < links.pairs.size(); ++i) {
    const LinkPair& p = links.pairs[i];
    FUZZ_CHECK(p.a >= 0 && p.a < p.b && p.b < n);
    if (i > 0) {
      const LinkPair& q = links.pairs[i - 1];
      FUZZ_CHECK(q.a < p.a || (q.a == p.a && q.b < p.b));
    }
    for (double v : {p.rtt_s, p.a_to_b_Bps, p.b_to_a_Bps}) {
      FUZZ_CHECK(std::isfinite(v) && v > 0);
    }
  }
}

void CheckRanges(const ControlMessage& msg) {
  if (const auto* m = std::get_if<HelloMsg>(&msg)) {
    FUZZ_CHECK(m->min_version <= m->max_version);
  } else if (const auto* m = std::get_if<JoinMsg>(&msg)) {
    FUZZ_CHECK(m->data_address.host.size() <= kMaxHostLength);
  } else if (const auto* m = std::get_if<RosterMsg>(&msg)) {
    const Roster& ro = m->roster;
    FUZZ_CHECK(ro.world_size >= 1 && ro.world_size <= kMaxWorldSize);
    FUZZ_CHECK(ro.rank >= 0 && ro.rank < ro.world_size);
    FUZZ_CHECK(ro.peers.size() == static_cast<size_t>(ro.world_size));
    for (const auto& hp : ro.peers)
      FUZZ_CHECK(hp.host.size() <= kMaxHostLength);
    CheckLinks(ro.links, ro.world_size);
  } else if (const auto* m = std::get_if<LinkReportMsg>(&msg)) {
    FUZZ_CHECK(!m->members.empty() &&
               m->members.size() <= static_cast<size_t>(kMaxWorldSize));
    for (const auto& hp : m->members)
      FUZZ_CHECK(hp.host.size() <= kMaxHostLength);
    CheckLinks(m->links, static_cast<int>(m->members.size()));
  } else if (const auto* m = std::get_if<ErrorMsg>(&msg)) {
    FUZZ_CHECK(m->code != absl::StatusCode::kOk);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<ControlMessage> msg = DecodePayload(data, size);
  if (!msg.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(msg.status()));
    return 0;
  }
  CheckRanges(*msg);
  if (const auto* join = std::get_if<JoinMsg>(&*msg)) {
    // mac_p binds the JOIN's fields exactly as sent: the payload between
    // the type byte and the trailing MAC.
    std::vector<uint8_t> context = JoinAuthContext(*join);
    FUZZ_CHECK(1 + context.size() + meridian::transport::kMacBytes == size);
    FUZZ_CHECK(std::equal(context.begin(), context.end(), data + 1));
  }
  FUZZ_CHECK(size >= 1 && data[0] == static_cast<uint8_t>(TypeOf(*msg)));
  (void)MsgTypeName(TypeOf(*msg));

  std::vector<uint8_t> again = EncodePayload(*msg);
  std::vector<uint8_t> in(data, data + size);
  if (std::holds_alternative<ErrorMsg>(*msg) && again != in) {
    // Only the 4-byte code after the type byte may differ.
    FUZZ_CHECK(again.size() == in.size());
    FUZZ_CHECK(std::equal(again.begin() + 5, again.end(), in.begin() + 5));
    absl::StatusOr<ControlMessage> twice =
        DecodePayload(again.data(), again.size());
    FUZZ_CHECK(twice.ok());
    FUZZ_CHECK(EncodePayload(*twice) == again);
  } else {
    FUZZ_CHECK(again == in);
  }

  // The frame the coordinator would send must pass the peer's limits
  // whenever the payload fits them.
  std::vector<uint8_t> frame = EncodeFrame(*msg);
  absl::StatusOr<meridian::transport::FrameHeader> h =
      meridian::transport::DecodeFrameHeader(frame.data(),
                                             kCoordinatorToPeerLimits);
  FUZZ_CHECK(h.ok());
  FUZZ_CHECK(h->length == size);
  return 0;
}
