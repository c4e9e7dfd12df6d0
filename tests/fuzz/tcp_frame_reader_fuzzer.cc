// FrameReader, the handshake's reader of one frame from a non-blocking
// socket, fed a byte stream through a socketpair in pieces whose sizes the
// fuzzer chooses, so that a header or payload may arrive split anywhere.
// Frames are read one after another until the stream ends or is refused:
// a finished frame must hold exactly its header's length within the limits,
// and a read that would block must not report an error.
#include <fcntl.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "transport/framing.h"
#include "transport/tcp/tcp_handshake.h"

using namespace meridian::transport;  // NOLINT: a test of this namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A stream longer than the socket buffer would block the writer.
  if (size > 32768) return 0;
  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  FUZZ_CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
  FuzzedDataProvider fdp(data, size);
  const FrameLimits limits{0, 4096};
  FrameReader reader;
  bool closed = false;
  while (true) {
    if (!closed) {
      // Up to 64 bytes per piece: small enough to split every header.
      size_t n = fdp.ConsumeIntegralInRange<size_t>(1, 64);
      std::vector<uint8_t> piece = fdp.ConsumeBytes<uint8_t>(n);
      if (!piece.empty()) {
        FUZZ_CHECK(write(sv[1], piece.data(), piece.size()) ==
                   static_cast<ssize_t>(piece.size()));
      }
      if (fdp.remaining_bytes() == 0) {
        // End of stream: the reader must then see the close, not block.
        close(sv[1]);
        closed = true;
      }
    }
    absl::Status st = reader.Read(sv[0], limits);
    if (!st.ok()) {
      FUZZ_CHECK(absl::IsInvalidArgument(st) || absl::IsUnavailable(st));
      FUZZ_CHECK(!absl::IsUnavailable(st) || closed);
      break;
    }
    if (reader.done()) {
      const FrameHeader& h = reader.header();
      FUZZ_CHECK(h.length <= limits.max_control_payload);
      FUZZ_CHECK(reader.payload().size() == h.length);
      if (h.type == FrameType::kHello) {
        // What the handshake does with a complete frame next.
        (void)DecodeHello(reader.payload());
        (void)DecodeHelloReply(reader.payload());
      }
      reader = FrameReader();
      continue;
    }
    // Not done and OK means it would block; only an open stream may.
    FUZZ_CHECK(!closed);
  }
  close(sv[0]);
  if (!closed) close(sv[1]);
  return 0;
}
