#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "transport/framing.h"
#include "transport/tcp/tcp_handshake.h"
#include "transport/wire.h"

namespace meridian::transport {
namespace {

// gmock is not linked into the unit tests, hence no HasSubstr.
#define EXPECT_HAS_SUBSTR(text, part)                        \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "'" << (text) << "' does not contain '" << (part) << "'"

FrameHeader SampleHeader() {
  FrameHeader h;
  h.type = FrameType::kData;
  h.length = 123456;
  h.msg = 7;
  h.op_seq = 0x0102030405060708ull;
  h.offset = 1ull << 40;
  for (size_t i = 0; i < h.desc.size(); ++i)
    h.desc[i] = static_cast<uint8_t>(0xA0 + i);
  return h;
}

TEST(FramingTest, RoundTrip) {
  for (FrameType t : {FrameType::kData, FrameType::kAbort, FrameType::kHello,
                      FrameType::kControl}) {
    FrameHeader h = SampleHeader();
    h.type = t;
    if (t != FrameType::kData) h.length = 99;
    uint8_t buf[kFrameHeaderSize];
    EncodeFrameHeader(h, buf);
    absl::StatusOr<FrameHeader> d = DecodeFrameHeader(buf, FrameLimits{});
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->type, h.type);
    EXPECT_EQ(d->length, h.length);
    EXPECT_EQ(d->msg, h.msg);
    EXPECT_EQ(d->op_seq, h.op_seq);
    EXPECT_EQ(d->offset, h.offset);
    EXPECT_EQ(d->desc, h.desc);
  }
}

TEST(FramingTest, WireLayoutIsLittleEndian) {
  uint8_t buf[kFrameHeaderSize];
  EncodeFrameHeader(SampleHeader(), buf);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 4), "MDN1");
  EXPECT_EQ(buf[16], 0x08);  // op_seq, low byte first
  EXPECT_EQ(buf[23], 0x01);
}

TEST(FramingTest, RejectsBadMagic) {
  uint8_t buf[kFrameHeaderSize];
  EncodeFrameHeader(SampleHeader(), buf);
  buf[0] ^= 0xFF;
  absl::StatusOr<FrameHeader> d = DecodeFrameHeader(buf, FrameLimits{});
  EXPECT_TRUE(absl::IsInvalidArgument(d.status()));
  EXPECT_HAS_SUBSTR(std::string(d.status().message()),
                    "malformed frame: bad magic");
}

TEST(FramingTest, RejectsBadVersion) {
  uint8_t buf[kFrameHeaderSize];
  EncodeFrameHeader(SampleHeader(), buf);
  StoreLE16(buf + 4, kWireVersion + 1);
  absl::StatusOr<FrameHeader> d = DecodeFrameHeader(buf, FrameLimits{});
  EXPECT_TRUE(absl::IsInvalidArgument(d.status()));
  EXPECT_HAS_SUBSTR(std::string(d.status().message()), "wire version");
}

TEST(FramingTest, RejectsUnknownType) {
  for (uint16_t type : {0, 5, 0xFFFF}) {
    uint8_t buf[kFrameHeaderSize];
    EncodeFrameHeader(SampleHeader(), buf);
    StoreLE16(buf + 6, type);
    absl::StatusOr<FrameHeader> d = DecodeFrameHeader(buf, FrameLimits{});
    EXPECT_TRUE(absl::IsInvalidArgument(d.status())) << type;
    EXPECT_HAS_SUBSTR(std::string(d.status().message()), "unknown type");
  }
}

TEST(FramingTest, RejectsOversizeLength) {
  FrameLimits limits;
  limits.max_data_payload = 1000;
  limits.max_control_payload = 10;
  FrameHeader h = SampleHeader();
  uint8_t buf[kFrameHeaderSize];

  h.length = 1000;
  EncodeFrameHeader(h, buf);
  EXPECT_TRUE(DecodeFrameHeader(buf, limits).ok());
  h.length = 1001;
  EncodeFrameHeader(h, buf);
  absl::StatusOr<FrameHeader> d = DecodeFrameHeader(buf, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(d.status()));
  EXPECT_HAS_SUBSTR(std::string(d.status().message()), "exceeds the limit");

  // Control frames have their own, smaller limit.
  h.type = FrameType::kAbort;
  h.length = 11;
  EncodeFrameHeader(h, buf);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeFrameHeader(buf, limits).status()));
}

TEST(WireTest, WriterReaderRoundTrip) {
  ByteWriter w;
  w.U8(1);
  w.U16(0xBEEF);
  w.U32(0xDEADBEEF);
  w.U64(0x0123456789ABCDEFull);
  w.I32(-5);
  w.Str("hello");
  std::vector<uint8_t> bytes = w.Take();
  ByteReader r(bytes.data(), bytes.size());
  EXPECT_EQ(*r.U8(), 1);
  EXPECT_EQ(*r.U16(), 0xBEEF);
  EXPECT_EQ(*r.U32(), 0xDEADBEEFu);
  EXPECT_EQ(*r.U64(), 0x0123456789ABCDEFull);
  EXPECT_EQ(*r.I32(), -5);
  EXPECT_EQ(*r.Str(), "hello");
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireTest, ShortReadsAreErrors) {
  uint8_t three[3] = {1, 2, 3};
  ByteReader r(three, sizeof(three));
  absl::StatusOr<uint32_t> v = r.U32();
  EXPECT_TRUE(absl::IsInvalidArgument(v.status()));
  EXPECT_HAS_SUBSTR(std::string(v.status().message()),
                    "needs 4 more bytes, has 3");
  EXPECT_FALSE(r.U64().ok());
  EXPECT_EQ(*r.U16(), 0x0201);  // a failed read consumes nothing
  EXPECT_FALSE(r.U16().ok());
  EXPECT_EQ(*r.U8(), 3);
  EXPECT_FALSE(r.U8().ok());
  uint8_t out[4];
  EXPECT_FALSE(r.Bytes(out, 1).ok());
}

TEST(WireTest, StringLengthIsChecked) {
  ByteWriter w;
  w.U32(100);  // claims 100 bytes, carries 2
  w.U8('a');
  w.U8('b');
  ByteReader r(w.data().data(), w.data().size());
  EXPECT_FALSE(r.Str().ok());

  ByteWriter big;
  big.Str(std::string(50, 'x'));
  ByteReader r2(big.data().data(), big.data().size());
  absl::StatusOr<std::string> s = r2.Str(10);
  EXPECT_HAS_SUBSTR(std::string(s.status().message()), "exceeds 10");
}

TEST(HandshakeTest, HelloRoundTrip) {
  Hello h;
  h.group_id = 77;
  h.epoch = 3;
  h.from_rank = 1;
  h.to_rank = 2;
  h.conn_index = 3;
  h.num_connections = 4;
  std::vector<uint8_t> frame = EncodeHelloFrame(h);
  ASSERT_GT(frame.size(), kFrameHeaderSize);
  absl::StatusOr<FrameHeader> fh =
      DecodeFrameHeader(frame.data(), kHandshakeLimits);
  ASSERT_TRUE(fh.ok()) << fh.status();
  EXPECT_EQ(fh->type, FrameType::kHello);
  std::vector<uint8_t> payload(frame.begin() + kFrameHeaderSize, frame.end());
  ASSERT_EQ(payload.size(), fh->length);
  absl::StatusOr<Hello> d = DecodeHello(payload);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->group_id, 77u);
  EXPECT_EQ(d->epoch, 3u);
  EXPECT_EQ(d->from_rank, 1);
  EXPECT_EQ(d->to_rank, 2);
  EXPECT_EQ(d->conn_index, 3u);
  EXPECT_EQ(d->num_connections, 4u);

  payload.pop_back();
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeHello(payload).status()));
}

TEST(HandshakeTest, CheckHelloNamesTheMismatch) {
  MeshSpec spec;
  spec.group_id = 9;
  spec.epoch = 2;
  spec.rank = 2;
  spec.world_size = 4;
  spec.options.connections_per_peer = 2;
  Hello ok;
  ok.group_id = 9;
  ok.epoch = 2;
  ok.from_rank = 0;
  ok.to_rank = 2;
  ok.conn_index = 1;
  ok.num_connections = 2;
  EXPECT_EQ(CheckHello(ok, spec), "");
  Hello h = ok;
  h.group_id = 8;
  EXPECT_HAS_SUBSTR(CheckHello(h, spec), "group mismatch");
  h = ok;
  h.epoch = 1;
  EXPECT_HAS_SUBSTR(CheckHello(h, spec), "epoch mismatch");
  h = ok;
  h.to_rank = 3;
  EXPECT_HAS_SUBSTR(CheckHello(h, spec), "rank mismatch");
  h = ok;
  h.from_rank = 3;
  EXPECT_HAS_SUBSTR(CheckHello(h, spec), "must not dial");
  h = ok;
  h.from_rank = 7;
  EXPECT_HAS_SUBSTR(CheckHello(h, spec), "not in the group");
  h = ok;
  h.num_connections = 4;
  EXPECT_HAS_SUBSTR(CheckHello(h, spec), "connections-per-peer mismatch");
  h = ok;
  h.conn_index = 2;
  EXPECT_HAS_SUBSTR(CheckHello(h, spec), "out of range");
}

}  // namespace
}  // namespace meridian::transport
