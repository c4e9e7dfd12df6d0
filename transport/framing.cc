#include "transport/framing.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "transport/wire.h"

namespace meridian::transport {

void EncodeFrameHeader(const FrameHeader& h, uint8_t out[kFrameHeaderSize]) {
  StoreLE32(out + 0, kFrameMagic);
  StoreLE16(out + 4, kWireVersion);
  StoreLE16(out + 6, static_cast<uint16_t>(h.type));
  StoreLE32(out + 8, h.length);
  StoreLE32(out + 12, h.msg);
  StoreLE64(out + 16, h.op_seq);
  StoreLE64(out + 24, h.offset);
  memcpy(out + 32, h.desc.data(), h.desc.size());
}

absl::StatusOr<FrameHeader> DecodeFrameHeader(const uint8_t in[kFrameHeaderSize],
                                              const FrameLimits& limits) {
  uint32_t magic = LoadLE32(in + 0);
  if (magic != kFrameMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed frame: bad magic 0x", absl::Hex(magic)));
  }
  uint16_t version = LoadLE16(in + 4);
  if (version != kWireVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed frame: wire version ", version, ", expected ", kWireVersion));
  }
  FrameHeader h;
  uint16_t type = LoadLE16(in + 6);
  if (type < static_cast<uint16_t>(FrameType::kData) ||
      type > static_cast<uint16_t>(FrameType::kControl)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed frame: unknown type ", type));
  }
  h.type = static_cast<FrameType>(type);
  h.length = LoadLE32(in + 8);
  h.msg = LoadLE32(in + 12);
  h.op_seq = LoadLE64(in + 16);
  h.offset = LoadLE64(in + 24);
  memcpy(h.desc.data(), in + 32, h.desc.size());
  uint32_t limit = h.type == FrameType::kData ? limits.max_data_payload
                                              : limits.max_control_payload;
  if (h.length > limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed frame: payload length ", h.length, " exceeds the limit ", limit));
  }
  if (h.offset > (uint64_t{1} << 62)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed frame: offset ", h.offset, " out of range"));
  }
  return h;
}

}  // namespace meridian::transport
