// TCP links over meshes of 2-4 ranks inside one process (see
// transport_test_mesh.h), and over socketpairs for injecting raw bytes.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/transport_test_mesh.h"
#include "transport/event_loop.h"
#include "transport/link.h"
#include "transport/socket.h"
#include "transport/tcp/tcp_handshake.h"
#include "transport/tcp/tcp_link.h"
#include "transport/tcp/tcp_mesh.h"
#include "transport/wire.h"

namespace meridian::transport {
namespace {

using namespace testing_mesh;  // NOLINT: the harness is this file's vocabulary

class StripingTest : public ::testing::TestWithParam<int> {};

TEST_P(StripingTest, MessagesOfAllSizesArriveWhole) {
  const int k = GetParam();
  TestMesh m(2);
  m.Connect(SmallFrames(k));
  ASSERT_TRUE(m.ranks[0]->status.ok()) << m.ranks[0]->status;
  ASSERT_TRUE(m.ranks[1]->status.ok()) << m.ranks[1]->status;
  EXPECT_EQ(m.link(0, 1)->num_connections(), k);
  EXPECT_EQ(m.ranks[0]->links[0], nullptr);

  const std::vector<size_t> sizes = {0, 1, 1000, 3u << 20};
  std::vector<std::vector<uint8_t>> out[2], in[2];
  for (int from = 0; from < 2; ++from) {
    int to = 1 - from;
    for (size_t i = 0; i < sizes.size(); ++i) {
      out[from].push_back(Pattern(sizes[i], from * 100 + i));
      in[to].emplace_back(sizes[i], 0);
    }
  }
  for (int r = 0; r < 2; ++r) {
    for (uint32_t i = 0; i < sizes.size(); ++i) {
      m.link(r, 1 - r)->PostRecv(7, i, Desc(7), in[r][i].data(), sizes[i]);
      m.link(r, 1 - r)->PostSend(7, i, Desc(7), out[r][i].data(), sizes[i]);
    }
  }
  const int n = static_cast<int>(sizes.size());
  ASSERT_TRUE(m.RunUntil([&] {
    return m.rec(0).Count(Ev::kRecvDone) == n &&
           m.rec(1).Count(Ev::kRecvDone) == n &&
           m.rec(0).Count(Ev::kSendDone) == n &&
           m.rec(1).Count(Ev::kSendDone) == n;
  }));
  for (int r = 0; r < 2; ++r) {
    for (uint32_t i = 0; i < sizes.size(); ++i) {
      EXPECT_TRUE(in[r][i] == out[1 - r][i])
          << "rank " << r << " message " << i;
      EXPECT_TRUE(m.rec(r).Has(Ev::kRecvDone, 1 - r, 7, i));
    }
    EXPECT_EQ(m.rec(r).Count(Ev::kLinkError), 0);
    // Which connection carries which frame depends on which socket had room
    // (StalledConnectionHoldsBackOnlyWhatItTook checks that); together they
    // carry every frame once: 48 + 1 + 1 + 1 frames of headers and payload.
    uint64_t sent = 0, received = 0;
    for (int c = 0; c < k; ++c) {
      sent += m.tcp(r, 1 - r)->bytes_sent(c);
      received += m.tcp(r, 1 - r)->bytes_received(c);
    }
    const uint64_t wire = 51 * kFrameHeaderSize + (3u << 20) + 1 + 1000;
    EXPECT_EQ(sent, wire);
    EXPECT_EQ(received, wire);
  }
}

INSTANTIATE_TEST_SUITE_P(K, StripingTest, ::testing::Values(1, 2, 4));

TEST(TcpMeshTest, FourRanksAllPairs) {
  TestMesh m(4);
  m.Connect(SmallFrames(2));
  for (auto& r : m.ranks) ASSERT_TRUE(r->status.ok()) << r->status;
  const size_t len = 300000;
  std::vector<uint8_t> out[4][4], in[4][4];
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      if (a == b) continue;
      out[a][b] = Pattern(len, a * 4 + b);
      in[b][a].assign(len, 0);
      m.link(b, a)->PostRecv(1, 0, Desc(1), in[b][a].data(), len);
      m.link(a, b)->PostSend(1, 0, Desc(1), out[a][b].data(), len);
    }
  }
  ASSERT_TRUE(m.RunUntil([&] {
    for (int r = 0; r < 4; ++r) {
      if (m.rec(r).Count(Ev::kRecvDone) != 3) return false;
    }
    return true;
  }));
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      if (a == b) continue;
      EXPECT_TRUE(in[b][a] == out[a][b]) << a << "->" << b;
    }
  }
}

// 1 MiB ahead of its receive: the first frames wait in the link's stash,
// the rest in the socket (the connection parks); both reach the buffer.
TEST(TcpLinkTest, ReceivePostedAfterDataArrivesIsStashedThenParked) {
  TestMesh m(2);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  std::vector<uint8_t> big = Pattern(1 << 20, 1), got(1 << 20, 0);
  m.link(0, 1)->PostSend(3, 0, Desc(3), nullptr, 0);
  m.link(0, 1)->PostSend(3, 1, Desc(3), big.data(), big.size());
  m.RunFor(100);
  EXPECT_EQ(m.rec(1).Count(Ev::kRecvDone), 0);
  // Posting out of order: message 1 first, then the empty message 0.
  m.link(1, 0)->PostRecv(3, 1, Desc(3), got.data(), got.size());
  m.link(1, 0)->PostRecv(3, 0, Desc(3), nullptr, 0);
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kRecvDone) == 2; }));
  EXPECT_TRUE(got == big);
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(0).Count(Ev::kSendDone) == 2; }));
}

TEST(TcpLinkTest, AbortBehindAnEarlyFrameIsSeen) {
  // Peers running different plans (mismatched calls) send frames nobody
  // posts a receive for; an abort that follows them on the same connection
  // must still arrive, not wait behind them for the operation timeout.
  TestMesh m(2);
  m.Connect(SmallFrames(1));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  std::vector<uint8_t> data = Pattern(1000, 4);
  m.link(0, 1)->PostSend(3, 5, Desc(3), data.data(), data.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(0).Count(Ev::kSendDone) == 1; }));
  m.RunFor(20);
  m.link(0, 1)->SendAbort(3, "mismatched collective calls");
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kRemoteAbort) == 1; }));
  EXPECT_EQ(m.rec(1).Count(Ev::kRecvDone), 0);
  // The early frame still lands if its receive is posted after all.
  std::vector<uint8_t> got(1000, 0);
  m.link(1, 0)->PostRecv(3, 5, Desc(3), got.data(), got.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kRecvDone) == 1; }));
  EXPECT_TRUE(got == data);
}

TEST(TcpLinkTest, EarlyFrameOfTheExpectedOpWithAnotherDescriptorIsAMismatch) {
  TestMesh m(2);
  m.Connect(SmallFrames(1));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  m.link(1, 0)->ExpectOp(4, Desc(4));
  std::vector<uint8_t> data = Pattern(100, 2);
  m.link(0, 1)->PostSend(4, 2, Desc(99), data.data(), data.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kMismatch) == 1; }));
  EXPECT_EQ(m.rec(1).Count(Ev::kLinkError), 0);
}

TEST(TcpLinkTest, ManyMessagesArriveIntactAndInOrder) {
  for (int k : {1, 3}) {
    TestMesh m(2);
    m.Connect(SmallFrames(k));
    ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
    const int n = 300;
    std::vector<std::vector<uint8_t>> out, in;
    for (int i = 0; i < n; ++i) {
      size_t len = (i * 7919) % 200000;
      out.push_back(Pattern(len, i));
      in.emplace_back(len, 0);
    }
    for (int i = 0; i < n; ++i) {
      m.link(0, 1)->PostSend(10 + i / 10, i % 10, Desc(9), out[i].data(),
                             out[i].size());
    }
    // Receives posted one at a time as earlier ones complete, from inside
    // the callback.
    int next = 0;
    auto post = [&] {
      m.link(1, 0)->PostRecv(10 + next / 10, next % 10, Desc(9),
                             in[next].data(), in[next].size());
      ++next;
    };
    m.rec(1).hook = [&](const Ev& e) {
      if (e.kind == Ev::kRecvDone && next < n) post();
    };
    post();
    ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kRecvDone) == n; }))
        << k;
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(in[i] == out[i]) << "message " << i;
      EXPECT_EQ(m.rec(1).evs[i].op, 10u + i / 10);
      EXPECT_EQ(m.rec(1).evs[i].msg, static_cast<uint32_t>(i % 10));
    }
    ASSERT_TRUE(m.RunUntil([&] { return m.rec(0).Count(Ev::kSendDone) == n; }));
  }
}

TEST(TcpLinkTest, PingPongFromCallbacks) {
  TestMesh m(2);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  // Op o travels from rank o % 2 to the other rank and carries the value o;
  // each receiver answers with op o + 1 from inside OnRecvDone.
  const uint64_t rounds = 200;
  uint64_t value[2] = {0, 0};
  uint64_t inbox[2] = {0, 0};
  for (int r = 0; r < 2; ++r) {
    m.rec(r).hook = [&, r](const Ev& e) {
      if (e.kind != Ev::kRecvDone || e.op >= rounds) return;
      EXPECT_EQ(inbox[r], e.op);
      value[r] = inbox[r] + 1;
      m.link(r, 1 - r)->PostRecv(e.op + 2, 0, Desc(1), &inbox[r], 8);
      m.link(r, 1 - r)->PostSend(e.op + 1, 0, Desc(1), &value[r], 8);
    };
  }
  m.link(1, 0)->PostRecv(0, 0, Desc(1), &inbox[1], 8);
  m.link(0, 1)->PostRecv(1, 0, Desc(1), &inbox[0], 8);
  m.link(0, 1)->PostSend(0, 0, Desc(1), &value[0], 8);
  ASSERT_TRUE(
      m.RunUntil([&] { return m.rec(1).Has(Ev::kRecvDone, 0, rounds, 0); }));
  EXPECT_EQ(inbox[1], rounds);
  EXPECT_EQ(m.rec(0).Count(Ev::kLinkError) + m.rec(1).Count(Ev::kLinkError), 0);
}

TEST(TcpLinkTest, DescriptorMismatchIsReportedAndLinkStaysUsable) {
  TestMesh m(2);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  std::vector<uint8_t> data = Pattern(200000, 5), got(200000, 0);
  m.link(1, 0)->PostRecv(4, 0, Desc(0xAA), got.data(), got.size());
  m.link(0, 1)->PostSend(4, 0, Desc(0xBB), data.data(), data.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kMismatch) == 1; }));
  const Ev* e = m.rec(1).First(Ev::kMismatch);
  EXPECT_EQ(e->peer, 0);
  EXPECT_EQ(e->op, 4u);
  EXPECT_EQ(e->expected, Desc(0xAA));
  EXPECT_EQ(e->received, Desc(0xBB));
  m.RunFor(50);
  EXPECT_EQ(m.rec(1).Count(Ev::kMismatch), 1);  // once per message
  EXPECT_EQ(m.rec(1).Count(Ev::kRecvDone), 0);
  EXPECT_TRUE(
      std::all_of(got.begin(), got.end(), [](uint8_t b) { return b == 0; }));
  m.link(1, 0)->CancelThrough(4);
  m.link(1, 0)->PostRecv(5, 0, Desc(5), got.data(), got.size());
  m.link(0, 1)->PostSend(5, 0, Desc(5), data.data(), data.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Has(Ev::kRecvDone, 0, 5, 0); }));
  EXPECT_TRUE(got == data);
}

TEST(TcpLinkTest, RemoteAbortCarriesTheReason) {
  TestMesh m(2);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  std::vector<uint8_t> big = Pattern(4 << 20, 3);
  m.link(0, 1)->PostSend(8, 0, Desc(8), big.data(), big.size());
  m.link(0, 1)->SendAbort(8, "rank 0 ran out of memory");
  m.link(0, 1)->CancelThrough(8);  // the abort frame survives the cancel
  ASSERT_TRUE(
      m.RunUntil([&] { return m.rec(1).Count(Ev::kRemoteAbort) == 1; }));
  const Ev* e = m.rec(1).First(Ev::kRemoteAbort);
  EXPECT_EQ(e->peer, 0);
  EXPECT_EQ(e->op, 8u);
  EXPECT_EQ(e->text, "rank 0 ran out of memory");
  m.link(1, 0)->CancelThrough(8);
  std::vector<uint8_t> got(10, 0), small = Pattern(10, 4);
  m.link(1, 0)->PostRecv(9, 0, Desc(9), got.data(), got.size());
  m.link(0, 1)->PostSend(9, 0, Desc(9), small.data(), small.size());
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Has(Ev::kRecvDone, 0, 9, 0); }));
  EXPECT_TRUE(got == small);
  EXPECT_FALSE(m.rec(0).Has(Ev::kSendDone, 1, 8, 0));
}

TEST(TcpLinkTest, CancelThroughThenNextOpWorks) {
  for (int k : {1, 2}) {
    TestMesh m(2);
    TcpOptions options = SmallFrames(k);
    options.socket_buffer_bytes = 64
                                  << 10;  // so that 16 MiB cannot fit in flight
    m.Connect(options);
    ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
    // The receiver never posts op 1, so the sender stalls part-way through.
    auto big = std::make_unique<std::vector<uint8_t>>(Pattern(16 << 20, 6));
    m.link(0, 1)->PostSend(1, 0, Desc(1), big->data(), big->size());
    m.link(0, 1)->PostSend(1, 1, Desc(1), big->data(), 1000);
    std::vector<uint8_t> unused(16 << 20);
    m.link(1, 0)->PostRecv(1, 1, Desc(1), unused.data(), 1000);
    m.RunFor(100);
    EXPECT_EQ(m.rec(0).Count(Ev::kSendDone), 0);
    m.link(0, 1)->CancelThrough(1);
    m.link(1, 0)->CancelThrough(1);
    big.reset();  // a started frame must not read the caller's buffer any more
    std::vector<uint8_t> next = Pattern(500000, 7), got(500000, 0);
    m.link(1, 0)->PostRecv(2, 0, Desc(2), got.data(), got.size());
    m.link(0, 1)->PostSend(2, 0, Desc(2), next.data(), next.size());
    ASSERT_TRUE(m.RunUntil([&] {
      return m.rec(1).Has(Ev::kRecvDone, 0, 2, 0);
    })) << k;
    EXPECT_TRUE(got == next);
    ASSERT_TRUE(
        m.RunUntil([&] { return m.rec(0).Has(Ev::kSendDone, 1, 2, 0); }));
    EXPECT_EQ(m.rec(0).Count(Ev::kSendDone), 1);  // nothing for cancelled op 1
    EXPECT_EQ(m.rec(1).Count(Ev::kRecvDone), 1);
    EXPECT_EQ(m.rec(0).Count(Ev::kLinkError) + m.rec(1).Count(Ev::kLinkError),
              0);
  }
}

// Passive rate (Link::TakePassiveSample): every byte of data payload is in
// the sample, clocked or not, and nothing else (headers, empty messages).
TEST(TcpLinkTest, PassiveSampleCountsStreamedPayload) {
  TestMesh m(2);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  const size_t len = 2u << 20;
  const int messages = 4;
  std::vector<uint8_t> out = Pattern(len, 3);
  std::vector<std::vector<uint8_t>> in(messages, std::vector<uint8_t>(len, 0));
  for (uint32_t i = 0; i < messages; ++i) {
    m.link(1, 0)->PostRecv(6, i, Desc(6), in[i].data(), len);
    m.link(0, 1)->PostSend(6, i, Desc(6), out.data(), len);
  }
  m.link(1, 0)->PostRecv(6, messages, Desc(6), nullptr, 0);
  m.link(0, 1)->PostSend(6, messages, Desc(6), nullptr, 0);
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kRecvDone) == messages + 1; }));
  for (const auto& got : in) EXPECT_TRUE(got == out);
  const PassiveSample s = m.link(1, 0)->TakePassiveSample();
  EXPECT_EQ(s.bytes + s.unclocked_bytes, messages * len);
  // 8 MiB in 64 KiB frames arrive in many reads, nearly all within the
  // streaming gap of the one before: most of it is clocked.
  EXPECT_GT(s.bytes, 0u);
  EXPECT_GT(s.seconds, 0);
  // Taking the sample starts a new one; the sender received no data.
  const PassiveSample again = m.link(1, 0)->TakePassiveSample();
  EXPECT_EQ(again.bytes + again.unclocked_bytes, 0u);
  EXPECT_EQ(again.seconds, 0);
  const PassiveSample sender = m.link(0, 1)->TakePassiveSample();
  EXPECT_EQ(sender.bytes + sender.unclocked_bytes, 0u);
}

TEST(TcpLinkTest, PassiveSampleLeavesIdlePausesOut) {
  TestMesh m(2);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  const size_t len = 1u << 20;
  std::vector<uint8_t> out = Pattern(len, 5), got(len, 0);
  for (uint64_t op = 1; op <= 2; ++op) {
    m.link(1, 0)->PostRecv(op, 0, Desc(1), got.data(), len);
    m.link(0, 1)->PostSend(op, 0, Desc(1), out.data(), len);
    ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kRecvDone) == static_cast<int>(op); }));
    // The sender has nothing to send for a while (a step of compute).
    if (op == 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const PassiveSample s = m.link(1, 0)->TakePassiveSample();
  EXPECT_EQ(s.bytes + s.unclocked_bytes, 2 * len);
  EXPECT_LT(s.seconds, 0.2) << "the pause between the messages was counted";
}

// A link over a socketpair: the test writes raw bytes into the other end.
struct PairLink {
  PairLink() {
    loop = std::move(EventLoop::Create()).value();
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    raw.reset(sv[1]);
    std::vector<Fd> conns;
    conns.emplace_back(sv[0]);
    link = std::move(TcpLink::Create(5, "10.0.0.5:999", std::move(conns),
                                     SmallFrames(1), loop.get(), &rec))
               .value();
  }
  bool RunUntil(const std::function<bool()>& pred, int timeout_ms = 3000) {
    Deadline deadline = DeadlineAfterMs(timeout_ms);
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      loop->RunOnce(10);
    }
    return true;
  }
  void Write(const void* p, size_t n) {
    ASSERT_TRUE(WriteFull(raw.get(), p, n, DeadlineAfterMs(1000)).ok());
  }
  void WriteHeader(const FrameHeader& h) {
    uint8_t b[kFrameHeaderSize];
    EncodeFrameHeader(h, b);
    Write(b, sizeof(b));
  }
  std::unique_ptr<EventLoop> loop;
  Recorder rec;
  Fd raw;
  std::unique_ptr<TcpLink> link;
};

// The far ends of K socketpairs, read by the test, stand in for a peer.
struct RawPeer {
  explicit RawPeer(int k) : RawPeer(k, SmallFrames(k)) {}
  RawPeer(int k, const TcpOptions& options) : streams(k) {
    loop = std::move(EventLoop::Create()).value();
    std::vector<Fd> conns;
    for (int i = 0; i < k; ++i) {
      int sv[2];
      EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
      conns.emplace_back(sv[0]);
      ends.emplace_back(sv[1]);
      EXPECT_TRUE(SetNonBlocking(sv[1], true).ok());
    }
    link_fds.reserve(k);
    for (const Fd& c : conns) link_fds.push_back(c.get());
    link = std::move(TcpLink::Create(2, "10.0.0.2:1", std::move(conns),
                                     options, loop.get(), &rec))
               .value();
  }
  bool RunUntil(const std::function<bool()>& pred) {
    Deadline deadline = DeadlineAfterMs(5000);
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      loop->RunOnce(10);
    }
    return true;
  }
  // Reads what connection `i` has delivered so far.
  void Drain(int i) {
    uint8_t buf[1 << 16];
    for (;;) {
      ssize_t n = read(ends[i].get(), buf, sizeof(buf));
      if (n <= 0) return;
      streams[i].insert(streams[i].end(), buf, buf + n);
    }
  }
  // Payload bytes of whole frames in connection `i`'s stream, copied to
  // their offsets in `out`.
  size_t Reassemble(int i, std::vector<uint8_t>& out) {
    size_t pos = 0, payload = 0;
    const std::vector<uint8_t>& s = streams[i];
    while (s.size() - pos >= kFrameHeaderSize) {
      auto h = DecodeFrameHeader(s.data() + pos, FrameLimits{});
      EXPECT_TRUE(h.ok()) << h.status();
      if (!h.ok() || s.size() - pos - kFrameHeaderSize < h->length) break;
      std::memcpy(out.data() + h->offset, s.data() + pos + kFrameHeaderSize,
                  h->length);
      pos += kFrameHeaderSize + h->length;
      payload += h->length;
    }
    return payload;
  }
  std::unique_ptr<EventLoop> loop;
  Recorder rec;
  std::vector<Fd> ends;
  std::vector<int> link_fds;
  std::vector<std::vector<uint8_t>> streams;
  std::unique_ptr<TcpLink> link;
};

TEST(TcpLinkTest, StalledConnectionHoldsBackOnlyWhatItTook) {
  // Connection 1's reader never reads until the end.  Frames go to whichever
  // connection's socket has room, so everything but what connection 1's
  // small socket buffer took (and the frame it was writing) flows through
  // the other two; a fixed share per connection would strand a third.
  RawPeer p(3);
  int small = 32 << 10;
  ASSERT_EQ(setsockopt(p.link_fds[1], SOL_SOCKET, SO_SNDBUF, &small,
                       sizeof(small)),
            0);
  const size_t len = 4u << 20;  // 64 frames of 64 KiB
  std::vector<uint8_t> out = Pattern(len, 42);
  p.link->PostSend(9, 0, Desc(9), out.data(), len);
  const size_t stranded_at_most = 4 * (64u << 10) + (64u << 10);
  std::vector<uint8_t> got(len, 0);
  ASSERT_TRUE(p.RunUntil([&] {
    p.Drain(0);
    p.Drain(2);
    return p.Reassemble(0, got) + p.Reassemble(2, got) + stranded_at_most >=
           len;
  })) << "connections 0 and 2 carried only "
      << p.Reassemble(0, got) + p.Reassemble(2, got) << " of " << len
      << " bytes while connection 1 was stalled";
  EXPECT_EQ(p.rec.Count(Ev::kSendDone), 0);  // connection 1 still owes bytes
  ASSERT_TRUE(p.RunUntil([&] {
    for (int i = 0; i < 3; ++i) p.Drain(i);
    return p.rec.Count(Ev::kSendDone) == 1 &&
           p.Reassemble(0, got) + p.Reassemble(1, got) +
                   p.Reassemble(2, got) == len;
  }));
  EXPECT_TRUE(got == out);
  EXPECT_GT(p.Reassemble(1, got), 0u);
  EXPECT_EQ(p.rec.Count(Ev::kLinkError), 0);
}

TEST(TcpLinkTest, FittedToAMeasuredPathSendsOverOnlyTheConnectionsItNeeds) {
  // Automatic K (connections_per_peer 0) with 1 MiB windows: a path of
  // 100 MB/s and 25 ms needs ceil(1.25 x 2.5 MB / 1 MiB) = 3 of the 5.
  TcpOptions options = SmallFrames(0);
  options.socket_buffer_bytes = 1 << 20;
  RawPeer p(5, options);
  EXPECT_EQ(p.link->FitToPath(100e6, 0.025), 3);
  EXPECT_EQ(p.link->sending_connections(), 3);
  const size_t len = 2u << 20;
  std::vector<uint8_t> out = Pattern(len, 7), got(len, 0);
  p.link->PostSend(4, 0, Desc(4), out.data(), len);
  ASSERT_TRUE(p.RunUntil([&] {
    for (int i = 0; i < 5; ++i) p.Drain(i);
    return p.rec.Count(Ev::kSendDone) == 1;
  }));
  size_t carried = 0;
  for (int i = 0; i < 3; ++i) carried += p.Reassemble(i, got);
  EXPECT_EQ(carried, len);
  EXPECT_TRUE(got == out);
  EXPECT_TRUE(p.streams[3].empty());
  EXPECT_TRUE(p.streams[4].empty());
  // Per operation, a plan may ask for every connection again, and back.
  p.link->SendOverAll(true);
  EXPECT_EQ(p.link->sending_connections(), 5);
  p.link->SendOverAll(false);
  EXPECT_EQ(p.link->sending_connections(), 3);
  // A faster measurement gives the connections back.
  EXPECT_EQ(p.link->FitToPath(1e9, 0.025), 5);
}

TEST(TcpLinkTest, AFixedConnectionCountIsNotFitted) {
  RawPeer p(4);  // connections_per_peer = 4, set by the user
  EXPECT_EQ(p.link->FitToPath(1e6, 0.001), 4);
  EXPECT_EQ(p.link->sending_connections(), 4);
}

// Frames written by hand, so the gaps between reads are known: the first
// read of a streak is not clocked (its bytes arrived at an unknown time),
// a read right after the previous one is, one after a pause is not.
TEST(TcpLinkTest, PassiveSampleClocksOnlyReadsThatContinueAStreak) {
  PairLink p;
  const size_t len = 32u << 10;
  std::vector<uint8_t> buf(3 * len);
  std::vector<uint8_t> data = Pattern(len, 9);
  p.link->PostRecv(7, 0, Desc(7), buf.data(), buf.size());
  auto frame = [&](int i) {
    FrameHeader h;
    h.op_seq = 7;
    h.desc = Desc(7);
    h.offset = i * len;
    h.length = static_cast<uint32_t>(len);
    p.WriteHeader(h);
    p.Write(data.data(), len);
  };
  uint64_t seen = 0;
  PassiveSample sample;
  auto read_all = [&](size_t total) {
    ASSERT_TRUE(p.RunUntil([&] {
      PassiveSample s = p.link->TakePassiveSample();
      seen += s.bytes + s.unclocked_bytes;
      sample.bytes += s.bytes;
      sample.seconds += s.seconds;
      sample.unclocked_bytes += s.unclocked_bytes;
      return seen == total;
    }));
  };
  frame(0);
  read_all(len);
  EXPECT_EQ(sample.bytes, 0u) << "the first read of a streak is not clocked";
  frame(1);  // at once: usually within the gap, so clocked
  read_all(2 * len);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  frame(2);  // after a pause: a new streak
  read_all(3 * len);
  ASSERT_TRUE(p.RunUntil([&] { return p.rec.Count(Ev::kRecvDone) == 1; }));
  EXPECT_GE(sample.unclocked_bytes, 2 * len);
  EXPECT_LE(sample.bytes, len);
  EXPECT_LT(sample.seconds, 0.05) << "the pause was counted";
}

TEST(TcpLinkTest, GarbageIsAMalformedFrame) {
  PairLink p;
  std::string garbage(kFrameHeaderSize, 'G');
  p.Write(garbage.data(), garbage.size());
  ASSERT_TRUE(p.RunUntil([&] { return p.rec.Count(Ev::kLinkError) == 1; }));
  const absl::Status& st = p.rec.First(Ev::kLinkError)->status;
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_HAS_SUBSTR(st.message(), "malformed frame");
  EXPECT_HAS_SUBSTR(st.message(), "rank 5 (10.0.0.5:999)");
  EXPECT_TRUE(p.link->failed());
  p.link->PostSend(1, 0, Desc(1), nullptr, 0);  // ignored, no event
  p.link->PostRecv(1, 0, Desc(1), nullptr, 0);
  p.link->SendAbort(1, "x");
  p.RunUntil([] { return false; }, 50);
  EXPECT_EQ(p.rec.evs.size(), 1u);
}

TEST(TcpLinkTest, HelloOnADataConnectionIsAnError) {
  PairLink p;
  FrameHeader h;
  h.type = FrameType::kHello;
  p.WriteHeader(h);
  ASSERT_TRUE(p.RunUntil([&] { return p.rec.Count(Ev::kLinkError) == 1; }));
  EXPECT_HAS_SUBSTR(p.rec.First(Ev::kLinkError)->status.message(),
                    "unexpected frame type");
}

TEST(TcpLinkTest, FrameBeyondThePostedReceiveIsAnError) {
  PairLink p;
  std::vector<uint8_t> buf(1000);
  p.link->PostRecv(2, 0, Desc(2), buf.data(), buf.size());
  FrameHeader h;
  h.op_seq = 2;
  h.desc = Desc(2);
  h.offset = 900;
  h.length = 200;
  p.WriteHeader(h);
  ASSERT_TRUE(p.RunUntil([&] { return p.rec.Count(Ev::kLinkError) == 1; }));
  const absl::Status& st = p.rec.First(Ev::kLinkError)->status;
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_HAS_SUBSTR(st.message(), "overruns the 1000-byte receive");
}

TEST(TcpLinkTest, FramesOfCancelledOpsAreDiscarded) {
  PairLink p;
  p.link->CancelThrough(3);
  FrameHeader h;
  h.op_seq = 3;
  h.length = 5000;
  p.WriteHeader(h);
  std::vector<uint8_t> junk(5000, 1);
  p.Write(junk.data(), junk.size());
  std::vector<uint8_t> data = Pattern(100, 1), got(100, 0);
  p.link->PostRecv(4, 0, Desc(4), got.data(), got.size());
  h.op_seq = 4;
  h.length = 100;
  h.desc = Desc(4);
  p.WriteHeader(h);
  p.Write(data.data(), data.size());
  ASSERT_TRUE(p.RunUntil([&] { return p.rec.Count(Ev::kRecvDone) == 1; }));
  EXPECT_TRUE(got == data);
  EXPECT_EQ(p.rec.evs.size(), 1u);
}

TEST(TcpLinkTest, PeerCloseNamesThePeerAndLinkMayBeDestroyedInTheCallback) {
  TestMesh m(2);
  m.Connect(SmallFrames(2));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  m.rec(1).hook = [&](const Ev& e) {
    if (e.kind == Ev::kLinkError) m.ranks[1]->links[0].reset();
  };
  m.ranks[0]->links[1].reset();
  ASSERT_TRUE(m.RunUntil([&] { return m.rec(1).Count(Ev::kLinkError) == 1; }));
  const Ev* e = m.rec(1).First(Ev::kLinkError);
  EXPECT_EQ(e->peer, 0);
  EXPECT_TRUE(absl::IsUnavailable(e->status)) << e->status;
  EXPECT_HAS_SUBSTR(e->status.message(),
                    "connection to rank 0 (" +
                        m.ranks[0]->listener->address().ToString() +
                        ") closed by peer");
  m.RunFor(50);
  EXPECT_EQ(m.rec(1).evs.size(), 1u);
}

TEST(TcpLinkTest, FailedLinkIgnoresPosts) {
  TestMesh m(2);
  m.Connect(SmallFrames(1));
  ASSERT_TRUE(m.ranks[0]->status.ok() && m.ranks[1]->status.ok());
  m.ranks[0]->links[1].reset();
  ASSERT_TRUE(m.RunUntil([&] { return m.link(1, 0)->failed(); }));
  uint8_t b = 1;
  m.link(1, 0)->PostSend(1, 0, Desc(1), &b, 1);
  m.link(1, 0)->PostRecv(1, 0, Desc(1), &b, 1);
  m.link(1, 0)->CancelThrough(1);
  m.RunFor(30);
  EXPECT_EQ(m.rec(1).evs.size(), 1u);
}

}  // namespace
}  // namespace meridian::transport
