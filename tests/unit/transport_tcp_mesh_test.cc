// Mesh set-up: handshakes, refusals, strays and deadlines.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/transport_test_mesh.h"
#include "transport/socket.h"
#include "transport/tcp/tcp_handshake.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::transport {
namespace {

using namespace testing_mesh;  // NOLINT: the harness is this file's vocabulary

// Speaks the dialer's side of the (unauthenticated) handshake from a plain
// blocking socket: hello, reply, and the confirmation when accepted.
struct RawDial {
  Fd fd;
  absl::Status status;  // of the exchange; OK when a reply was read
  HelloReply reply;
};

RawDial DialWithHello(const HostPort& addr, const Hello& hello) {
  RawDial out;
  Deadline deadline = DeadlineAfterMs(3000);
  absl::StatusOr<Fd> fd = Connect(addr, deadline, true);
  if (!fd.ok()) {
    out.status = fd.status();
    return out;
  }
  out.fd = std::move(fd).value();
  std::vector<uint8_t> frame = EncodeHelloFrame(hello);
  out.status = WriteFull(out.fd.get(), frame.data(), frame.size(), deadline);
  if (!out.status.ok()) return out;
  uint8_t hdr[kFrameHeaderSize];
  out.status = ReadFull(out.fd.get(), hdr, sizeof(hdr), deadline);
  if (!out.status.ok()) return out;
  absl::StatusOr<FrameHeader> h = DecodeFrameHeader(hdr, kHandshakeLimits);
  if (!h.ok()) {
    out.status = h.status();
    return out;
  }
  std::vector<uint8_t> payload(h->length);
  out.status = ReadFull(out.fd.get(), payload.data(), payload.size(), deadline);
  if (!out.status.ok()) return out;
  absl::StatusOr<HelloReply> reply = DecodeHelloReply(payload);
  out.status = reply.status();
  if (!reply.ok()) return out;
  out.reply = *reply;
  if (out.reply.accepted) {
    // These meshes run without a token: the confirmation's MAC is zero.
    std::vector<uint8_t> confirm = EncodeHelloConfirmFrame(HelloConfirm{});
    out.status =
        WriteFull(out.fd.get(), confirm.data(), confirm.size(), deadline);
  }
  return out;
}

Hello HelloFor(const MeshSpec& spec, int from, int to, uint32_t index) {
  Hello h;
  h.group_id = spec.group_id;
  h.epoch = spec.epoch;
  h.from_rank = from;
  h.to_rank = to;
  h.conn_index = index;
  h.num_connections = static_cast<uint32_t>(spec.options.connections_per_peer);
  return h;
}

TEST(TcpMeshTest, SingleRankHasNoLinks) {
  TestMesh m(1);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok()) << m.ranks[0]->status;
  ASSERT_EQ(m.ranks[0]->links.size(), 1u);
  EXPECT_EQ(m.ranks[0]->links[0], nullptr);
}

TEST(TcpMeshTest, InvalidSpecIsRejected) {
  TestMesh m(2);
  m.Connect(SmallFrames(257), 1000, {}, {0});
  EXPECT_TRUE(absl::IsInvalidArgument(m.ranks[0]->status))
      << m.ranks[0]->status;
  m.Connect(SmallFrames(1), 1000,
            [](MeshSpec& s) { s.peer_addresses.pop_back(); }, {0});
  EXPECT_TRUE(absl::IsInvalidArgument(m.ranks[0]->status))
      << m.ranks[0]->status;
}

// Automatic K: the dialer sizes each pair from the RTT of its first
// connection; the acceptor takes the K the dialer announces.  A policy that
// aims absurdly high makes even loopback want several connections.
TEST(TcpMeshTest, AutomaticConnectionsFollowTheDialersChoice) {
  TestMesh m(3);
  TcpOptions o = SmallFrames(0);
  o.path.target_bits_per_s = 1e15;
  o.path.max_connections = 3;
  m.Connect(o);
  for (int r = 0; r < 3; ++r) ASSERT_TRUE(m.ranks[r]->status.ok()) << m.ranks[r]->status;
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      if (a != b) {
        EXPECT_EQ(m.link(a, b)->num_connections(), 3) << a << "->" << b;
      }
    }
  }
  // The default policy on loopback: one connection per pair.
  TestMesh local(2);
  local.Connect(SmallFrames(0));
  ASSERT_TRUE(local.ranks[0]->status.ok()) << local.ranks[0]->status;
  EXPECT_EQ(local.link(0, 1)->num_connections(), 1);
  EXPECT_EQ(local.link(1, 0)->num_connections(), 1);
}

TEST(TcpMeshTest, FixedConnectionsMustMatchAnAutomaticDialersChoice) {
  TestMesh m(2);
  m.Connect(SmallFrames(0), 800, [](MeshSpec& s) {
    if (s.rank == 1) s.options.connections_per_peer = 2;  // the acceptor insists
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(m.ranks[0]->status)) << m.ranks[0]->status;
  EXPECT_HAS_SUBSTR(m.ranks[0]->status.message(), "connections-per-peer mismatch");
}

TEST(TcpMeshTest, WrongGroupIsRefused) {
  TestMesh m(2);
  auto start = Clock::now();
  m.Connect(SmallFrames(2), 800, [](MeshSpec& s) {
    if (s.rank == 1) s.group_id = 43;
  });
  // The dialer hears why at once; the acceptor keeps waiting, then names it.
  const absl::Status& dialer = m.ranks[0]->status;
  EXPECT_TRUE(absl::IsFailedPrecondition(dialer)) << dialer;
  EXPECT_HAS_SUBSTR(dialer.message(), "refused");
  EXPECT_HAS_SUBSTR(dialer.message(), "group mismatch");
  const absl::Status& acceptor = m.ranks[1]->status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(acceptor)) << acceptor;
  EXPECT_HAS_SUBSTR(acceptor.message(),
                    "timed out waiting for rank 0 (" +
                        m.addresses[0].ToString() +
                        "): its connections were refused (group mismatch");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST(TcpMeshTest, RankThatNeverShowsUpIsNamed) {
  TestMesh m(3);
  // Rank 2 never runs; its port is closed so dials are refused.
  std::string rank2 = m.addresses[2].ToString();
  m.ranks[2]->listener.reset();
  auto start = Clock::now();
  m.Connect(SmallFrames(2), 400, {}, {0, 1});
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  for (int r : {0, 1}) {
    const absl::Status& st = m.ranks[r]->status;
    EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
    EXPECT_HAS_SUBSTR(st.message(),
                      "timed out waiting for rank 2 (" + rank2 + ")");
    EXPECT_EQ(st.message().find("rank 0 ("), std::string::npos)
        << st;  // 0 and 1 met
  }
}

TEST(TcpMeshTest, PeerThatListensButNeverAnswersIsNamed) {
  // Rank 1's listener is open (the kernel completes the TCP handshake) but
  // rank 1 never runs the mesh, so the hello is never answered.
  TestMesh m(2);
  auto start = Clock::now();
  m.Connect(SmallFrames(2), 300, {}, {0});
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  const absl::Status& st = m.ranks[0]->status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_HAS_SUBSTR(st.message(), "timed out waiting for rank 1 (" +
                                      m.addresses[1].ToString() +
                                      "): no handshake reply");
}

TEST(TcpMeshTest, LowerRankThatNeverDialsIsNamed) {
  TestMesh m(2);
  auto start = Clock::now();
  m.Connect(SmallFrames(1), 300, {}, {1});
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  const absl::Status& st = m.ranks[1]->status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_HAS_SUBSTR(st.message(), "timed out waiting for rank 0 (" +
                                      m.addresses[0].ToString() +
                                      "): it never connected");
}

TEST(TcpMeshTest, StrayConnectionsAreClosedAndWaitingContinues) {
  TestMesh m(2);
  const TcpOptions options = SmallFrames(2);
  const HostPort addr1 = m.addresses[1];
  // A port scanner that connects and says nothing, one that sends garbage,
  // and a peer of another group: none of them may disturb the mesh.
  absl::StatusOr<Fd> silent = Connect(addr1, DeadlineAfterMs(1000), false);
  ASSERT_TRUE(silent.ok());
  absl::StatusOr<Fd> noisy = Connect(addr1, DeadlineAfterMs(1000), false);
  ASSERT_TRUE(noisy.ok());
  std::string garbage(100, 'Z');
  ASSERT_TRUE(WriteFull(noisy->get(), garbage.data(), garbage.size(),
                        DeadlineAfterMs(1000))
                  .ok());

  std::thread rank1([&] { m.Connect(options, 5000, {}, {1}); });
  Hello wrong = HelloFor(m.Spec(0, options), 0, 1, 0);
  wrong.group_id = 7;
  RawDial other = DialWithHello(addr1, wrong);
  ASSERT_TRUE(other.status.ok()) << other.status;
  EXPECT_FALSE(other.reply.accepted);
  EXPECT_HAS_SUBSTR(other.reply.reason, "group mismatch");
  Hello bad_k = HelloFor(m.Spec(0, options), 0, 1, 0);
  bad_k.num_connections = 3;
  RawDial other_k = DialWithHello(addr1, bad_k);
  ASSERT_TRUE(other_k.status.ok()) << other_k.status;
  EXPECT_FALSE(other_k.reply.accepted);
  EXPECT_HAS_SUBSTR(other_k.reply.reason, "connections-per-peer mismatch");

  m.Connect(options, 5000, {}, {0});
  rank1.join();
  ASSERT_TRUE(m.ranks[0]->status.ok()) << m.ranks[0]->status;
  ASSERT_TRUE(m.ranks[1]->status.ok()) << m.ranks[1]->status;
  std::vector<uint8_t> data = Pattern(100000, 1), got(100000, 0);
  m.link(1, 0)->PostRecv(1, 0, Desc(1), got.data(), got.size());
  m.link(0, 1)->PostSend(1, 0, Desc(1), data.data(), data.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Has(Ev::kRecvDone, 0, 1, 0); }));
  EXPECT_TRUE(got == data);
}

TEST(TcpMeshTest, MalformedFrameAfterAFakeHello) {
  // The test itself plays rank 0: a valid hello, then garbage on the wire.
  TestMesh m(2);
  const TcpOptions options = SmallFrames(1);
  std::thread rank1([&] { m.Connect(options, 5000, {}, {1}); });
  RawDial fake =
      DialWithHello(m.addresses[1], HelloFor(m.Spec(0, options), 0, 1, 0));
  rank1.join();
  ASSERT_TRUE(fake.status.ok()) << fake.status;
  ASSERT_TRUE(fake.reply.accepted) << fake.reply.reason;
  ASSERT_TRUE(m.ranks[1]->status.ok()) << m.ranks[1]->status;
  std::string garbage(kFrameHeaderSize, '\x7f');
  ASSERT_TRUE(WriteFull(fake.fd.get(), garbage.data(), garbage.size(),
                        DeadlineAfterMs(1000))
                  .ok());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kLinkError) == 1; }));
  const absl::Status& st = m.rec(1).First(Ev::kLinkError)->status;
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_HAS_SUBSTR(st.message(), "rank 0 (");
  EXPECT_HAS_SUBSTR(st.message(), "malformed frame");
  EXPECT_TRUE(m.link(1, 0)->failed());
}

TEST(TcpMeshTest, RedialedConnectionReplacesTheEarlierOne) {
  // A dialer that gave up on connection 0 and dialed it again: the acceptor
  // keeps the newest connection and closes the older one.
  TestMesh m(2);
  const TcpOptions options = SmallFrames(2);
  std::thread rank1([&] { m.Connect(options, 5000, {}, {1}); });
  const HostPort addr1 = m.addresses[1];
  const MeshSpec spec0 = m.Spec(0, options);
  RawDial old0 = DialWithHello(addr1, HelloFor(spec0, 0, 1, 0));
  RawDial new0 = DialWithHello(addr1, HelloFor(spec0, 0, 1, 0));
  RawDial conn1 = DialWithHello(addr1, HelloFor(spec0, 0, 1, 1));
  rank1.join();
  for (RawDial* d : {&old0, &new0, &conn1}) {
    ASSERT_TRUE(d->status.ok()) << d->status;
    ASSERT_TRUE(d->reply.accepted) << d->reply.reason;
  }
  ASSERT_TRUE(m.ranks[1]->status.ok()) << m.ranks[1]->status;
  char byte;
  absl::Status eof = ReadFull(old0.fd.get(), &byte, 1, DeadlineAfterMs(2000));
  EXPECT_TRUE(absl::IsUnavailable(eof)) << eof;

  uint64_t v = 0x1122334455667788ull, got = 0;
  FrameHeader h;
  h.op_seq = 1;
  h.length = 8;
  h.desc = Desc(1);
  uint8_t hdr[kFrameHeaderSize];
  EncodeFrameHeader(h, hdr);
  m.link(1, 0)->PostRecv(1, 0, Desc(1), &got, 8);
  ASSERT_TRUE(
      WriteFull(new0.fd.get(), hdr, sizeof(hdr), DeadlineAfterMs(1000)).ok());
  ASSERT_TRUE(WriteFull(new0.fd.get(), &v, 8, DeadlineAfterMs(1000)).ok());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kRecvDone) == 1; }));
  EXPECT_EQ(got, v);
  EXPECT_EQ(m.rec(1).Count(Ev::kLinkError), 0);
}

}  // namespace
}  // namespace meridian::transport
