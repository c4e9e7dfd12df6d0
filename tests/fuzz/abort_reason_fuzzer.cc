// DecodeAbortReason on the text of any kAbort frame.  Whatever a peer
// sends, the result must be an error (an abort never reads as success) and
// a decoded status must survive Encode -> Decode unchanged, since ranks
// relay the reasons they receive.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collectives/abort_reason.h"
#include "tests/fuzz/fuzz_check.h"

using meridian::collectives::DecodeAbortReason;
using meridian::collectives::EncodeAbortReason;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string reason(reinterpret_cast<const char*>(data), size);
  absl::Status st = DecodeAbortReason(reason);
  FUZZ_CHECK(!st.ok());
  absl::Status again = DecodeAbortReason(EncodeAbortReason(st));
  FUZZ_CHECK(again == st);
  return 0;
}
