// ByteReader over an arbitrary payload, driven by a script of reads that
// the fuzzer also chooses.  Each successful read must consume exactly its
// width and return the little-endian value of those bytes; each failed read
// must say InvalidArgument and, except for Str (whose length prefix is
// already consumed), consume nothing.  The values read, written back with
// ByteWriter, must rebuild the consumed prefix byte for byte.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "transport/wire.h"

using meridian::transport::ByteReader;
using meridian::transport::ByteWriter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  // The script comes from the front, the payload is the rest; a separate
  // heap copy of exactly its size lets ASan catch any read past the end.
  std::vector<uint8_t> script =
      fdp.ConsumeBytes<uint8_t>(fdp.ConsumeIntegralInRange<size_t>(0, 64));
  std::vector<uint8_t> payload = fdp.ConsumeRemainingBytes<uint8_t>();
  const uint8_t* base = payload.data();
  ByteReader r(base, payload.size());
  ByteWriter w;

  for (size_t i = 0; i < script.size(); ++i) {
    uint8_t op = script[i] % 7;
    uint8_t arg = script[i] / 7;  // Str's limit / Bytes' count
    size_t before = r.remaining();
    const uint8_t* at = base + (payload.size() - before);
    absl::Status st;
    size_t want = 0;
    switch (op) {
      case 0: {
        want = 1;
        auto v = r.U8();
        st = v.status();
        if (v.ok()) {
          FUZZ_CHECK(*v == at[0]);
          w.U8(*v);
        }
        break;
      }
      case 1: {
        want = 2;
        auto v = r.U16();
        st = v.status();
        if (v.ok()) {
          FUZZ_CHECK(*v == (at[0] | at[1] << 8));
          w.U16(*v);
        }
        break;
      }
      case 2: {
        want = 4;
        auto v = r.U32();
        st = v.status();
        if (v.ok()) {
          FUZZ_CHECK(*v == meridian::transport::LoadLE32(at));
          w.U32(*v);
        }
        break;
      }
      case 3: {
        want = 8;
        auto v = r.U64();
        st = v.status();
        if (v.ok()) {
          uint64_t ref = 0;
          for (int b = 0; b < 8; ++b) ref |= uint64_t{at[b]} << (8 * b);
          FUZZ_CHECK(*v == ref);
          w.U64(*v);
        }
        break;
      }
      case 4: {
        want = 4;
        auto v = r.I32();
        st = v.status();
        if (v.ok()) w.I32(*v);
        break;
      }
      case 5: {
        size_t max_len = size_t{arg} * 4;
        auto v = r.Str(max_len);
        st = v.status();
        if (v.ok()) {
          FUZZ_CHECK(v->size() <= max_len);
          want = 4 + v->size();
          w.Str(*v);
        } else if (before >= 4) {
          // The length prefix was read before the length was refused.
          FUZZ_CHECK(r.remaining() == before - 4);
          w.Bytes(at, 4);
        }
        break;
      }
      default: {
        want = arg;
        // +1: callers always pass a real buffer, even for zero bytes.
        std::vector<uint8_t> out(want + 1);
        st = r.Bytes(out.data(), want);
        if (st.ok()) w.Bytes(out.data(), want);
        break;
      }
    }
    if (st.ok()) {
      FUZZ_CHECK(r.remaining() == before - want);
    } else {
      FUZZ_CHECK(absl::IsInvalidArgument(st));
      if (op != 5) FUZZ_CHECK(r.remaining() == before);
    }
  }
  size_t consumed = payload.size() - r.remaining();
  FUZZ_CHECK(w.data().size() == consumed);
  FUZZ_CHECK(std::vector<uint8_t>(base, base + consumed) == w.data());
  return 0;
}
