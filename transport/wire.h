// Little-endian encoding helpers and a bounds-checked reader/writer for
// message payloads (coordinator protocol, handshakes).  Reading past the end
// is an error, never undefined behaviour: payloads come from the network.
#ifndef MERIDIAN_TRANSPORT_WIRE_H_
#define MERIDIAN_TRANSPORT_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace meridian::transport {

inline void StoreLE16(uint8_t* p, uint16_t v) { for (int i = 0; i < 2; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline void StoreLE32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline void StoreLE64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline uint16_t LoadLE16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t LoadLE32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t LoadLE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

class ByteWriter {
 public:
  void U8(uint8_t v) { buf_.push_back(v); }
  void U16(uint16_t v) { Grow(2); StoreLE16(&buf_[buf_.size() - 2], v); }
  void U32(uint32_t v) { Grow(4); StoreLE32(&buf_[buf_.size() - 4], v); }
  void U64(uint64_t v) { Grow(8); StoreLE64(&buf_[buf_.size() - 8], v); }
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void Bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  // Length-prefixed (u32) string.
  void Str(const std::string& s) { U32(static_cast<uint32_t>(s.size())); Bytes(s.data(), s.size()); }
  const std::vector<uint8_t>& data() const { return buf_; }
  std::vector<uint8_t> Take() { return std::move(buf_); }

 private:
  void Grow(size_t n) { buf_.resize(buf_.size() + n); }
  std::vector<uint8_t> buf_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  absl::StatusOr<uint8_t> U8() { if (!Has(1)) return Short(1); return *p_++; }
  absl::StatusOr<uint16_t> U16() { if (!Has(2)) return Short(2); uint16_t v = LoadLE16(p_); p_ += 2; return v; }
  absl::StatusOr<uint32_t> U32() { if (!Has(4)) return Short(4); uint32_t v = LoadLE32(p_); p_ += 4; return v; }
  absl::StatusOr<uint64_t> U64() { if (!Has(8)) return Short(8); uint64_t v = LoadLE64(p_); p_ += 8; return v; }
  absl::StatusOr<int32_t> I32() {
    auto v = U32();
    if (!v.ok()) return v.status();
    return static_cast<int32_t>(*v);
  }
  // Length-prefixed string of at most max_len bytes.
  absl::StatusOr<std::string> Str(size_t max_len = 4096) {
    auto n = U32();
    if (!n.ok()) return n.status();
    if (*n > max_len) {
      return absl::InvalidArgumentError(absl::StrCat(
          "malformed message: string of ", *n, " bytes exceeds ", max_len));
    }
    if (!Has(*n)) return Short(*n);
    std::string s(reinterpret_cast<const char*>(p_), *n);
    p_ += *n;
    return s;
  }
  absl::Status Bytes(void* out, size_t n) {
    if (!Has(n)) return Short(n);
    // The reader of an empty vector holds a null pointer, which memcpy must
    // not be given even for zero bytes (found by tests/fuzz).
    if (n > 0) memcpy(out, p_, n);
    p_ += n;
    return absl::OkStatus();
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  bool Has(size_t n) const { return static_cast<size_t>(end_ - p_) >= n; }
  absl::Status Short(size_t n) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed message: needs ", n, " more bytes, has ", remaining()));
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_WIRE_H_
