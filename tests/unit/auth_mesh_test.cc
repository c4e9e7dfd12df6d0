// The peer<->peer handshake with a shared token: right token, wrong token,
// a token on one side only, and a replayed handshake.  The dialer that sees
// a bad token fails at once; the acceptor keeps waiting for the right peer
// until its deadline, which then names the refused one.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/transport_test_mesh.h"
#include "transport/auth.h"
#include "transport/socket.h"
#include "transport/tcp/tcp_handshake.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::transport {
namespace {

using namespace testing_mesh;  // NOLINT: the harness is this file's vocabulary

std::function<void(MeshSpec&)> WithToken(const std::string& token) {
  return [token](MeshSpec& s) { s.auth_token = token; };
}
std::function<void(MeshSpec&)> TokenPerRank(std::vector<std::string> tokens) {
  return [tokens](MeshSpec& s) { s.auth_token = tokens[s.rank]; };
}

TEST(MeshAuthTest, RightTokenConnectsAndCarriesData) {
  TestMesh m(3);
  m.Connect(SmallFrames(2), 5000, WithToken("shared"));
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(m.ranks[r]->status.ok()) << m.ranks[r]->status;
  }
  std::vector<uint8_t> data = Pattern(70000, 3), got(70000, 0);
  m.link(2, 0)->PostRecv(1, 0, Desc(1), got.data(), got.size());
  m.link(0, 2)->PostSend(1, 0, Desc(1), data.data(), data.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(2).Has(Ev::kRecvDone, 0, 1, 0); }));
  EXPECT_TRUE(got == data);
}

TEST(MeshAuthTest, WrongTokenIsRefusedOnBothSides) {
  TestMesh m(2);
  auto start = Clock::now();
  m.Connect(SmallFrames(1), 800, TokenPerRank({"intruder", "shared"}));
  // The dialer learns from the acceptor's MAC that the token differs.
  const absl::Status& dialer = m.ranks[0]->status;
  EXPECT_TRUE(absl::IsPermissionDenied(dialer)) << dialer;
  EXPECT_HAS_SUBSTR(dialer.message(), "authentication failed: rank 1 (");
  EXPECT_HAS_SUBSTR(dialer.message(), "does not know the token");
  // The acceptor refuses the connection, waits on, and names it at the end.
  const absl::Status& acceptor = m.ranks[1]->status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(acceptor)) << acceptor;
  EXPECT_HAS_SUBSTR(acceptor.message(), "rank 0 (");
  EXPECT_HAS_SUBSTR(acceptor.message(),
                    "authentication failed: peer at 127.0.0.1:");
  EXPECT_HAS_SUBSTR(acceptor.message(), "does not know the token");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST(MeshAuthTest, TokenOnOneSideOnlyIsRefusedNotDowngraded) {
  for (bool dialer_has_token : {false, true}) {
    SCOPED_TRACE(dialer_has_token ? "dialer has the token"
                                  : "acceptor has the token");
    TestMesh m(2);
    m.Connect(SmallFrames(1), 800,
              dialer_has_token ? TokenPerRank({"shared", ""})
                               : TokenPerRank({"", "shared"}));
    const absl::Status& dialer = m.ranks[0]->status;
    EXPECT_TRUE(absl::IsPermissionDenied(dialer)) << dialer;
    EXPECT_HAS_SUBSTR(dialer.message(), "authentication failed");
    const absl::Status& acceptor = m.ranks[1]->status;
    EXPECT_TRUE(absl::IsDeadlineExceeded(acceptor)) << acceptor;
    EXPECT_HAS_SUBSTR(acceptor.message(), "authentication failed");
  }
}

// Plays rank 0 from a raw socket with the token; returns every byte sent.
std::vector<uint8_t> DialAsRankZero(const HostPort& addr, const MeshSpec& spec,
                                    const std::string& token, bool* accepted) {
  std::vector<uint8_t> sent;
  *accepted = false;
  Deadline deadline = DeadlineAfterMs(3000);
  absl::StatusOr<Fd> fd = Connect(addr, deadline, true);
  EXPECT_TRUE(fd.ok()) << fd.status();
  if (!fd.ok()) return sent;
  Hello hello;
  hello.group_id = spec.group_id;
  hello.epoch = spec.epoch;
  hello.from_rank = 0;
  hello.to_rank = 1;
  hello.num_connections = 1;
  hello.authenticated = true;
  hello.nonce = NewNonce();
  std::vector<uint8_t> frame = EncodeHelloFrame(hello);
  sent = frame;
  EXPECT_TRUE(WriteFull(fd->get(), frame.data(), frame.size(), deadline).ok());
  uint8_t hdr[kFrameHeaderSize];
  if (!ReadFull(fd->get(), hdr, sizeof(hdr), deadline).ok()) return sent;
  absl::StatusOr<FrameHeader> h = DecodeFrameHeader(hdr, kHandshakeLimits);
  EXPECT_TRUE(h.ok()) << h.status();
  if (!h.ok()) return sent;
  std::vector<uint8_t> payload(h->length);
  EXPECT_TRUE(
      ReadFull(fd->get(), payload.data(), payload.size(), deadline).ok());
  absl::StatusOr<HelloReply> reply = DecodeHelloReply(payload);
  EXPECT_TRUE(reply.ok() && reply->accepted)
      << (reply.ok() ? reply->reason : std::string(reply.status().message()));
  if (!reply.ok() || !reply->accepted) return sent;
  HelloConfirm confirm;
  confirm.mac = HandshakeMac(token, kMeshAuthLabel, kMeshDialerRole,
                             hello.nonce, reply->nonce, HelloAuthContext(hello));
  frame = EncodeHelloConfirmFrame(confirm);
  sent.insert(sent.end(), frame.begin(), frame.end());
  EXPECT_TRUE(WriteFull(fd->get(), frame.data(), frame.size(), deadline).ok());
  *accepted = true;
  return sent;
}

TEST(MeshAuthTest, IntruderDoesNotStopTheRightPeer) {
  // Someone without the token claims rank 0's place first; the acceptor
  // refuses it and still takes the real rank 0 when it comes.
  const TcpOptions options = SmallFrames(1);
  TestMesh m(2);
  std::thread rank1([&] { m.Connect(options, 5000, WithToken("s"), {1}); });
  bool accepted = false;
  DialAsRankZero(m.addresses[1], m.Spec(0, options), "not-the-token",
                 &accepted);
  m.Connect(options, 5000, WithToken("s"), {0});
  rank1.join();
  ASSERT_TRUE(m.ranks[0]->status.ok()) << m.ranks[0]->status;
  ASSERT_TRUE(m.ranks[1]->status.ok()) << m.ranks[1]->status;
  uint64_t v = 0x0123456789abcdefull, got = 0;
  m.link(1, 0)->PostRecv(1, 0, Desc(1), &got, sizeof(got));
  m.link(0, 1)->PostSend(1, 0, Desc(1), &v, sizeof(v));
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Has(Ev::kRecvDone, 0, 1, 0); }));
  EXPECT_EQ(got, v);
}

TEST(MeshAuthTest, ReplayedHandshakeIsRefused) {
  const TcpOptions options = SmallFrames(1);
  std::vector<uint8_t> recorded;
  {
    // A legitimate rank 0 (the test) completes rank 1's mesh.
    TestMesh m(2);
    std::thread rank1([&] { m.Connect(options, 5000, WithToken("s"), {1}); });
    bool accepted = false;
    recorded = DialAsRankZero(m.addresses[1], m.Spec(0, options), "s",
                              &accepted);
    rank1.join();
    ASSERT_TRUE(accepted);
    ASSERT_TRUE(m.ranks[1]->status.ok()) << m.ranks[1]->status;
  }
  // The same group and epoch again (TestMesh uses fixed ones); the recorded
  // bytes arrive on a new connection.  The acceptor's nonce is new, so the
  // recorded confirmation does not verify.
  TestMesh m(2);
  std::thread rank1([&] { m.Connect(options, 800, WithToken("s"), {1}); });
  absl::StatusOr<Fd> fd = Connect(m.addresses[1], DeadlineAfterMs(2000), true);
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_TRUE(WriteFull(fd->get(), recorded.data(), recorded.size(),
                        DeadlineAfterMs(2000))
                  .ok());
  rank1.join();
  const absl::Status& st = m.ranks[1]->status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_HAS_SUBSTR(st.message(), "rank 0 (");
  EXPECT_HAS_SUBSTR(st.message(), "authentication failed");
}

}  // namespace
}  // namespace meridian::transport
