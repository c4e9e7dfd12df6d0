#include "runtime/coordinator/coordinator.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "runtime/coordinator/protocol.h"
#include "runtime/coordinator/server.h"
#include "transport/framing.h"
#include "transport/wire.h"

namespace meridian::coordinator {
namespace {

using transport::DeadlineAfterMs;
using transport::HostPort;

constexpr int kDeadlineMs = 5000;
// These tests speak the protocol from raw sockets, so they run the
// coordinator unauthenticated; auth_test.cc covers the token.
const std::string kNoToken;

HostPort Addr(const std::string& text) {
  return *transport::ParseHostPort(text);
}

std::unique_ptr<Coordinator> StartCoordinator() {
  auto c = Coordinator::Start("127.0.0.1:0", kNoToken);
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

// A port nothing listens on (bound, then released).
uint16_t UnusedPort() {
  auto fd = transport::Listen(Addr("127.0.0.1:0"));
  EXPECT_TRUE(fd.ok());
  return transport::LocalAddress(fd->get())->port;
}

HostPort DataAddr(int i) { return HostPort{"127.0.0.1", uint16_t(20000 + i)}; }

// A connected client together with the outcome of its Join.
struct Joined {
  std::unique_ptr<CoordinatorClient> client;
  absl::StatusOr<Roster> roster = absl::UnknownError("not run");
};

Joined ConnectAndJoin(const std::string& coord, int world, int rank,
                      HostPort data, int deadline_ms = kDeadlineMs,
                      const std::string& token = kNoToken) {
  Joined j;
  auto client =
      CoordinatorClient::Connect(Addr(coord), token, DeadlineAfterMs(deadline_ms));
  if (!client.ok()) {
    j.roster = client.status();
    return j;
  }
  j.client = *std::move(client);
  j.roster = j.client->Join(world, rank, data, DeadlineAfterMs(deadline_ms));
  return j;
}

// Joins `ranks.size()` peers concurrently (rank -1: any).
std::vector<Joined> JoinAll(const std::string& coord, int world,
                            const std::vector<int>& ranks,
                            const std::string& token = kNoToken) {
  std::vector<std::future<Joined>> futures;
  for (size_t i = 0; i < ranks.size(); ++i) {
    futures.push_back(std::async(std::launch::async, [&, i] {
      return ConnectAndJoin(coord, world, ranks[i], DataAddr(int(i)),
                            kDeadlineMs, token);
    }));
  }
  std::vector<Joined> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

void ExpectConsistent(const std::vector<Joined>& joined, int world) {
  std::set<int> ranks;
  for (const Joined& j : joined) {
    ASSERT_TRUE(j.roster.ok()) << j.roster.status();
    const Roster& r = *j.roster;
    EXPECT_EQ(r.world_size, world);
    EXPECT_NE(r.group_id, 0u);
    EXPECT_EQ(r.epoch, 1u);
    EXPECT_EQ(r.group_id, joined[0].roster->group_id);
    ASSERT_EQ(r.peers.size(), size_t(world));
    for (int p = 0; p < world; ++p) {
      EXPECT_EQ(r.peers[p].ToString(), joined[0].roster->peers[p].ToString());
    }
    ranks.insert(r.rank);
  }
  EXPECT_EQ(ranks.size(), size_t(world));
  EXPECT_EQ(*ranks.begin(), 0);
  EXPECT_EQ(*ranks.rbegin(), world - 1);
}

// Retries while the coordinator still holds a group whose members' closes
// it has not processed yet.
Joined JoinRetryingWhileFormed(const std::string& coord, int world, int rank,
                               HostPort data) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (true) {
    Joined j = ConnectAndJoin(coord, world, rank, data);
    // Unavailable: closed at once while the pending-connection cap is full.
    bool transient = absl::IsFailedPrecondition(j.roster.status()) ||
                     absl::IsUnavailable(j.roster.status());
    if (j.roster.ok() || !transient ||
        std::chrono::steady_clock::now() > until) {
      return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

transport::Fd RawConnect(const std::string& coord) {
  auto fd =
      transport::Connect(Addr(coord), DeadlineAfterMs(kDeadlineMs), false);
  EXPECT_TRUE(fd.ok()) << fd.status();
  return *std::move(fd);
}

void SendBytes(int fd, const std::vector<uint8_t>& bytes) {
  ASSERT_TRUE(transport::WriteFull(fd, bytes.data(), bytes.size(),
                                   DeadlineAfterMs(kDeadlineMs))
                  .ok());
}

// True when the other side closes the connection within timeout_ms;
// whatever it sends first is skipped.
bool ClosedWithin(int fd, int timeout_ms) {
  auto deadline = DeadlineAfterMs(timeout_ms);
  while (true) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, transport::MillisLeft(deadline)) <= 0) return false;
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return true;
  }
}

std::vector<uint8_t> ControlFrame(const std::vector<uint8_t>& payload,
                                  uint32_t claimed_length) {
  transport::FrameHeader h;
  h.type = transport::FrameType::kControl;
  h.length = claimed_length;
  std::vector<uint8_t> out(transport::kFrameHeaderSize);
  transport::EncodeFrameHeader(h, out.data());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Links of three peers as rank 0 would report or a roster hand out.
LinkMatrix ThreeLinks() {
  LinkMatrix m;
  m.gamma_Bps = 8e9;
  m.mem_Bps = 1e10;
  m.incast_penalty = 0.03;
  m.pairs = {{0, 1, 2e-4, 1e9, 9e8, 0}, {0, 2, 0.08, 1e8, 1.1e8, 1},
             {1, 2, 0.08, 1.2e8, 1e8, 2}};
  return m;
}

TEST(CoordinatorProtocol, RoundTripsEveryMessage) {
  Roster roster{0x1234, 1, 2, 3, {DataAddr(0), DataAddr(1), {"::1", 7}}, {}};
  Roster with_links = roster;
  with_links.links = ThreeLinks();
  LinkReportMsg report{7, {DataAddr(0), DataAddr(1), {"::1", 7}}, ThreeLinks()};
  std::vector<ControlMessage> msgs = {
      RosterMsg{with_links}, report,
      HelloMsg{1, 3}, WelcomeMsg{2}, JoinMsg{4, -1, DataAddr(5)},
      RosterMsg{roster}, ErrorMsg{absl::StatusCode::kFailedPrecondition, "no"},
      HeartbeatMsg{9}, NoticeMsg{3, 2, 1, true, "rank 1 was lost"},
      NoticeMsg{4, 0, -1, false, ""}, UpdateMsg{5, true},
      ReconnectMsg{0x77, 3, 1, 4, DataAddr(2), {}}};
  WelcomeMsg w;
  w.heartbeat_interval_ms = 250;
  msgs.push_back(w);
  for (const ControlMessage& m : msgs) {
    std::vector<uint8_t> frame = EncodeFrame(m);
    FrameAssembler asm_(kPeerToCoordinatorLimits);
    // Byte by byte: the server sees arbitrary splits.
    for (size_t i = 0; i < frame.size(); ++i) {
      auto none = asm_.Next();
      ASSERT_TRUE(none.ok() && !none->has_value());
      ASSERT_LE(1u, asm_.wanted());
      asm_.Append(&frame[i], 1);
    }
    auto got = asm_.Next();
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(TypeOf(**got), TypeOf(m));
    EXPECT_EQ(EncodePayload(**got), EncodePayload(m));
  }
}

TEST(CoordinatorProtocol, RejectsMalformedPayloads) {
  std::vector<uint8_t> join = EncodePayload(JoinMsg{2, 0, DataAddr(0)});
  for (size_t len = 0; len < join.size(); ++len) {
    EXPECT_FALSE(DecodePayload(join.data(), len).ok())
        << "truncated at " << len;
  }
  join.push_back(0);
  EXPECT_FALSE(DecodePayload(join.data(), join.size()).ok()) << "trailing byte";
  uint8_t unknown[] = {0xEE, 1, 2};
  EXPECT_FALSE(DecodePayload(unknown, sizeof(unknown)).ok());
  // A roster that claims many peers but carries none must not allocate them.
  transport::ByteWriter w;
  w.U8(uint8_t(MsgType::kRoster));
  w.U64(1);
  w.U64(1);
  w.I32(0);
  w.I32(kMaxWorldSize);
  EXPECT_FALSE(DecodePayload(w.data().data(), w.data().size()).ok());
  uint8_t bad_hello[] = {uint8_t(MsgType::kHello), 3, 0, 1, 0};  // 3..1
  EXPECT_FALSE(DecodePayload(bad_hello, sizeof(bad_hello)).ok());
}

TEST(CoordinatorProtocol, LinkMatrixSurvivesTheRoundTripExactly) {
  LinkReportMsg report{7, {DataAddr(0), DataAddr(1), {"::1", 7}}, ThreeLinks()};
  std::vector<uint8_t> bytes = EncodePayload(report);
  auto got = DecodePayload(bytes.data(), bytes.size());
  ASSERT_TRUE(got.ok()) << got.status();
  const auto& back = std::get<LinkReportMsg>(*got);
  EXPECT_EQ(back.epoch, 7u);
  ASSERT_EQ(back.members.size(), 3u);
  EXPECT_EQ(back.members[2].ToString(), "[::1]:7");
  ASSERT_EQ(back.links.pairs.size(), 3u);
  EXPECT_EQ(back.links.gamma_Bps, 8e9);
  EXPECT_EQ(back.links.incast_penalty, 0.03);
  EXPECT_EQ(back.links.pairs[1].a, 0);
  EXPECT_EQ(back.links.pairs[1].b, 2);
  EXPECT_EQ(back.links.pairs[1].rtt_s, 0.08);
  EXPECT_EQ(back.links.pairs[1].b_to_a_Bps, 1.1e8);
  EXPECT_EQ(back.links.pairs[2].round, 2u);
  // A roster without known links is the version-3 layout, byte for byte.
  Roster plain{0x1234, 1, 0, 1, {DataAddr(0)}, {}};
  std::vector<uint8_t> v4 = EncodePayload(RosterMsg{plain});
  transport::ByteWriter v3;
  v3.U8(uint8_t(MsgType::kRoster));
  v3.U64(0x1234);
  v3.U64(1);
  v3.I32(0);
  v3.I32(1);
  v3.Str(DataAddr(0).host);
  v3.U16(DataAddr(0).port);
  EXPECT_EQ(v4, v3.data());
}

// Every way a link report can be malformed is refused by the decoder
// (InvalidArgument, which makes the coordinator drop the connection), never
// read past its end nor allocated from a forged count.
TEST(CoordinatorProtocol, RejectsMalformedLinkReports) {
  const std::vector<transport::HostPort> members = {DataAddr(0), DataAddr(1), {"::1", 7}};
  auto decode = [](const LinkReportMsg& m) {
    std::vector<uint8_t> b = EncodePayload(m);
    return DecodePayload(b.data(), b.size());
  };
  ASSERT_TRUE(decode(LinkReportMsg{3, members, ThreeLinks()}).ok());
  std::vector<uint8_t> good = EncodePayload(LinkReportMsg{3, members, ThreeLinks()});
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(DecodePayload(good.data(), len).ok()) << "truncated at " << len;
  }
  good.push_back(0);
  EXPECT_FALSE(DecodePayload(good.data(), good.size()).ok()) << "trailing byte";

  auto expect_bad = [&](const char* what, const std::function<void(LinkReportMsg&)>& spoil) {
    LinkReportMsg m{3, members, ThreeLinks()};
    spoil(m);
    absl::StatusOr<ControlMessage> got = decode(m);
    ASSERT_FALSE(got.ok()) << what;
    EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << what << ": " << got.status();
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  expect_bad("NaN round trip", [&](LinkReportMsg& m) { m.links.pairs[0].rtt_s = nan; });
  expect_bad("infinite rate", [&](LinkReportMsg& m) { m.links.pairs[1].a_to_b_Bps = inf; });
  expect_bad("zero rate", [](LinkReportMsg& m) { m.links.pairs[2].b_to_a_Bps = 0; });
  expect_bad("negative round trip", [](LinkReportMsg& m) { m.links.pairs[0].rtt_s = -1e-3; });
  expect_bad("negative reduce rate", [](LinkReportMsg& m) { m.links.gamma_Bps = -1; });
  expect_bad("NaN copy rate", [&](LinkReportMsg& m) { m.links.mem_Bps = nan; });
  expect_bad("incast penalty above 1", [](LinkReportMsg& m) { m.links.incast_penalty = 2; });
  expect_bad("NaN incast penalty", [&](LinkReportMsg& m) { m.links.incast_penalty = nan; });
  expect_bad("pair outside the members", [](LinkReportMsg& m) { m.links.pairs[2].b = 3; });
  expect_bad("pair with itself", [](LinkReportMsg& m) { m.links.pairs[0].b = 0; });
  expect_bad("pair upside down",
             [](LinkReportMsg& m) { std::swap(m.links.pairs[0].a, m.links.pairs[0].b); });
  expect_bad("pairs out of order",
             [](LinkReportMsg& m) { std::swap(m.links.pairs[0], m.links.pairs[1]); });
  expect_bad("pair twice", [](LinkReportMsg& m) { m.links.pairs[1] = m.links.pairs[0]; });
  expect_bad("no members", [](LinkReportMsg& m) { m.members.clear(); });
  expect_bad("more pairs than two members have", [](LinkReportMsg& m) { m.members.resize(2); });

  // Counts that the payload cannot hold are refused before allocating.
  transport::ByteWriter w;
  w.U8(uint8_t(MsgType::kLinkReport));
  w.U64(3);
  w.U32(kMaxWorldSize);  // members claimed, none present
  EXPECT_FALSE(DecodePayload(w.data().data(), w.data().size()).ok());
  transport::ByteWriter p;
  p.U8(uint8_t(MsgType::kLinkReport));
  p.U64(3);
  p.U32(300);
  for (int i = 0; i < 300; ++i) {
    p.Str("h");
    p.U16(1);
  }
  p.U64(0);
  p.U64(0);
  p.U32(uint32_t(kMaxLinkPairs));  // pairs claimed, none present
  EXPECT_FALSE(DecodePayload(p.data().data(), p.data().size()).ok());

  // A roster's link section: pairs of its own ranks only, never empty.
  Roster ro{0x1234, 2, 0, 2, {DataAddr(0), DataAddr(1)}, {}};
  ro.links = ThreeLinks();  // pairs of ranks up to 2 in a roster of 2
  std::vector<uint8_t> b = EncodePayload(RosterMsg{ro});
  EXPECT_FALSE(DecodePayload(b.data(), b.size()).ok());
  transport::ByteWriter empty;
  std::vector<uint8_t> plain = EncodePayload(RosterMsg{Roster{1, 1, 0, 1, {DataAddr(0)}, {}}});
  for (uint8_t byte : plain) empty.U8(byte);
  empty.U64(0);
  empty.U64(0);
  empty.U32(0);
  EXPECT_FALSE(DecodePayload(empty.data().data(), empty.data().size()).ok());
}

// A member whose link report cannot be used keeps its membership (the
// report is ignored); rank 0's report of the current epoch comes back in
// the rosters of the next step boundary.
TEST(Coordinator, LinkReportsAreCheckedAndHandedOutWithTheRoster) {
  auto coord = StartCoordinator();
  std::vector<Joined> joined = JoinAll(coord->address(), 2, {0, 1});
  ASSERT_TRUE(joined[0].roster.ok() && joined[1].roster.ok());
  EXPECT_TRUE(joined[0].roster->links.empty());
  EXPECT_EQ(joined[0].client->protocol_version(), kProtocolVersion);
  std::vector<transport::Fd> fds;
  for (Joined& j : joined) fds.push_back(j.client->ReleaseFd());
  const std::vector<transport::HostPort> members = {DataAddr(0), DataAddr(1)};
  LinkMatrix one;
  one.gamma_Bps = 5e9;
  one.mem_Bps = 6e9;
  one.pairs = {{0, 1, 1e-3, 2e9, 3e9, 0}};
  auto write = [](int fd, const ControlMessage& m) {
    ASSERT_TRUE(WriteMessage(fd, m, DeadlineAfterMs(kDeadlineMs)).ok());
  };
  // Ignored: another epoch, another member list, not rank 0.  The large
  // one is past the limits of a peer that is not a member yet (64 KiB):
  // a member may send it, so it is read, and refused for its members.
  LinkReportMsg big;
  big.epoch = 1;
  for (int i = 0; i < 128; ++i) big.members.push_back(DataAddr(i));
  for (int a = 0; a < 128; ++a) {
    for (int b = a + 1; b < 128; ++b) big.links.pairs.push_back({a, b, 1e-3, 1e9, 1e9, 0});
  }
  ASSERT_GT(EncodePayload(big).size(), size_t{kPeerToCoordinatorLimits.max_control_payload});
  write(fds[0].get(), big);
  write(fds[0].get(), LinkReportMsg{5, members, one});
  write(fds[0].get(), LinkReportMsg{1, {DataAddr(0), DataAddr(7)}, one});
  write(fds[1].get(), LinkReportMsg{1, members, one});
  auto step = [&](bool expect_links) {
    for (auto& fd : fds) write(fd.get(), UpdateMsg{1, false});
    for (auto& fd : fds) {
      absl::StatusOr<ControlMessage> m =
          ReadMessage(fd.get(), kCoordinatorToPeerLimits, DeadlineAfterMs(kDeadlineMs));
      ASSERT_TRUE(m.ok()) << m.status();
      const auto* r = std::get_if<RosterMsg>(&*m);
      ASSERT_NE(r, nullptr) << MsgTypeName(TypeOf(*m));
      EXPECT_EQ(r->roster.epoch, 1u);
      EXPECT_EQ(!r->roster.links.empty(), expect_links);
      if (expect_links) {
        ASSERT_EQ(r->roster.links.pairs.size(), 1u);
        EXPECT_EQ(r->roster.links.pairs[0].a_to_b_Bps, 2e9);
        EXPECT_EQ(r->roster.links.gamma_Bps, 5e9);
      }
    }
  };
  step(false);
  write(fds[0].get(), LinkReportMsg{1, members, one});
  step(true);
}

// A version-3 peer shares the coordinator with version-4 peers: its
// rosters never carry the link matrix its decoder would take for trailing
// bytes.
TEST(Coordinator, VersionThreePeerGetsRostersWithoutLinks) {
  auto coord = StartCoordinator();
  auto v4 = std::async(std::launch::async, [&] {
    return ConnectAndJoin(coord->address(), 2, 0, DataAddr(0));
  });
  transport::Fd v3 = RawConnect(coord->address());
  const auto deadline = [] { return DeadlineAfterMs(kDeadlineMs); };
  ASSERT_TRUE(WriteMessage(v3.get(), HelloMsg{3, 3}, deadline()).ok());
  auto welcome = ReadMessage(v3.get(), kCoordinatorToPeerLimits, deadline());
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  EXPECT_EQ(std::get<WelcomeMsg>(*welcome).version, 3);
  ASSERT_TRUE(WriteMessage(v3.get(), JoinMsg{2, 1, DataAddr(1)}, deadline()).ok());
  auto first = ReadMessage(v3.get(), kCoordinatorToPeerLimits, deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  Joined member = v4.get();
  ASSERT_TRUE(member.roster.ok()) << member.roster.status();
  transport::Fd fd = member.client->ReleaseFd();
  LinkMatrix one;
  one.gamma_Bps = 5e9;
  one.mem_Bps = 6e9;
  one.pairs = {{0, 1, 1e-3, 2e9, 3e9, 0}};
  ASSERT_TRUE(WriteMessage(fd.get(), LinkReportMsg{1, {DataAddr(0), DataAddr(1)}, one},
                           deadline())
                  .ok());
  for (int fd_of : {fd.get(), v3.get()}) {
    ASSERT_TRUE(WriteMessage(fd_of, UpdateMsg{1, false}, deadline()).ok());
  }
  auto v4_roster = ReadMessage(fd.get(), kCoordinatorToPeerLimits, deadline());
  ASSERT_TRUE(v4_roster.ok()) << v4_roster.status();
  EXPECT_EQ(std::get<RosterMsg>(*v4_roster).roster.links.pairs.size(), 1u);
  // Read as raw bytes: exactly the version-3 layout, nothing after it.
  uint8_t header[transport::kFrameHeaderSize];
  ASSERT_TRUE(transport::ReadFull(v3.get(), header, sizeof(header), deadline()).ok());
  auto h = transport::DecodeFrameHeader(header, kCoordinatorToPeerLimits);
  ASSERT_TRUE(h.ok()) << h.status();
  std::vector<uint8_t> payload(h->length);
  ASSERT_TRUE(transport::ReadFull(v3.get(), payload.data(), payload.size(), deadline()).ok());
  Roster expected = std::get<RosterMsg>(*v4_roster).roster;
  expected.rank = 1;
  expected.links = LinkMatrix();
  EXPECT_EQ(payload, EncodePayload(RosterMsg{expected}));
}

TEST(Coordinator, PeersGetConsistentRosters) {
  auto coord = StartCoordinator();
  std::vector<Joined> joined = JoinAll(coord->address(), 4, {-1, -1, -1, -1});
  ExpectConsistent(joined, 4);
  for (const Joined& j : joined) {
    // Each peer's own entry is the data address it advertised.
    bool found = false;
    for (int i = 0; i < 4; ++i) {
      found |=
          j.roster->peers[j.roster->rank].ToString() == DataAddr(i).ToString();
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(j.client->local_host(), "127.0.0.1");
  }
}

TEST(Coordinator, HonoursRequestedRanks) {
  auto coord = StartCoordinator();
  std::vector<int> wanted = {3, -1, 1, -1};
  std::vector<Joined> joined = JoinAll(coord->address(), 4, wanted);
  ExpectConsistent(joined, 4);
  EXPECT_EQ(joined[0].roster->rank, 3);
  EXPECT_EQ(joined[2].roster->rank, 1);
  EXPECT_EQ(joined[0].roster->peers[3].ToString(), DataAddr(0).ToString());
  EXPECT_EQ(joined[2].roster->peers[1].ToString(), DataAddr(2).ToString());
}

TEST(Coordinator, WildcardDataHostBecomesTheObservedHost) {
  auto coord = StartCoordinator();
  Joined j = ConnectAndJoin(coord->address(), 1, -1, HostPort{"0.0.0.0", 4242});
  ASSERT_TRUE(j.roster.ok()) << j.roster.status();
  EXPECT_EQ(j.roster->peers[0].ToString(), "127.0.0.1:4242");
}

// Two peers race for something only one can have; returns the index of
// the one that was answered first (the refused one: the other waits for its
// group).
size_t FirstAnswered(std::vector<std::future<Joined>>& racers) {
  while (true) {
    for (size_t i = 0; i < racers.size(); ++i) {
      if (racers[i].wait_for(std::chrono::milliseconds(5)) ==
          std::future_status::ready) {
        return i;
      }
    }
  }
}

std::future<Joined> JoinAsync(const std::string& coord, int world, int rank,
                              int data) {
  return std::async(std::launch::async, [=] {
    return ConnectAndJoin(coord, world, rank, DataAddr(data));
  });
}

TEST(Coordinator, RefusesDuplicateRequestedRank) {
  auto coord = StartCoordinator();
  std::vector<std::future<Joined>> racers;
  racers.push_back(JoinAsync(coord->address(), 3, 1, 0));
  racers.push_back(JoinAsync(coord->address(), 3, 1, 1));
  size_t first = FirstAnswered(racers);
  Joined refused = racers[first].get();
  ASSERT_FALSE(refused.roster.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.roster.status()))
      << refused.roster.status();
  EXPECT_NE(refused.roster.status().message().find("rank 1 is already taken"),
            std::string::npos)
      << refused.roster.status();
  // The winner still gets its rank once the group completes.
  for (const Joined& j : JoinAll(coord->address(), 3, {-1, -1})) {
    EXPECT_TRUE(j.roster.ok()) << j.roster.status();
  }
  Joined winner = racers[1 - first].get();
  ASSERT_TRUE(winner.roster.ok()) << winner.roster.status();
  EXPECT_EQ(winner.roster->rank, 1);
}
TEST(Coordinator, RefusesWorldSizeMismatchNamingBothSizes) {
  auto coord = StartCoordinator();
  std::vector<std::future<Joined>> racers;
  racers.push_back(JoinAsync(coord->address(), 2, -1, 0));
  racers.push_back(JoinAsync(coord->address(), 3, -1, 1));
  size_t first = FirstAnswered(racers);
  Joined refused = racers[first].get();
  ASSERT_FALSE(refused.roster.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.roster.status()))
      << refused.roster.status();
  std::string msg(refused.roster.status().message());
  EXPECT_NE(msg.find("world size 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("world size 3"), std::string::npos) << msg;
  // Complete the winner's group so that it, too, finishes promptly.
  int world = first == 0 ? 3 : 2;
  std::vector<int> fill(world - 1, -1);
  for (const Joined& j : JoinAll(coord->address(), world, fill)) {
    EXPECT_TRUE(j.roster.ok()) << j.roster.status();
  }
  EXPECT_TRUE(racers[1 - first].get().roster.ok());
}

TEST(Coordinator, JoinerAfterFormationWaitsToBeAdmitted) {
  auto coord = StartCoordinator();
  std::vector<Joined> members = JoinAll(coord->address(), 2, {-1, -1});
  ExpectConsistent(members, 2);
  // Pending until the members reach a step boundary, which they never do
  // here: the join times out, saying what it waited for.
  Joined late = ConnectAndJoin(coord->address(), 5, -1, DataAddr(9), 300);
  ASSERT_FALSE(late.roster.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(late.roster.status())) << late.roster.status();
  EXPECT_NE(late.roster.status().message().find("admit this peer"), std::string::npos)
      << late.roster.status();
}

TEST(Coordinator, NewGroupFormsAfterAllMembersLeave) {
  auto coord = StartCoordinator();
  std::vector<Joined> first = JoinAll(coord->address(), 2, {-1, -1});
  ExpectConsistent(first, 2);
  uint64_t first_id = first[0].roster->group_id;
  first.clear();  // closes both connections
  // At once: the coordinator must notice the closes before refusing.
  Joined next = ConnectAndJoin(coord->address(), 1, 0, DataAddr(0));
  ASSERT_TRUE(next.roster.ok()) << next.roster.status();
  EXPECT_NE(next.roster->group_id, first_id);
  EXPECT_EQ(next.roster->epoch, 1u);
  EXPECT_EQ(next.roster->world_size, 1);
}

TEST(Coordinator, JoinersThatLeaveBeforeFormationAreForgotten) {
  auto coord = StartCoordinator();
  {
    // Gives up (deadline) and closes: it must not count towards the group.
    Joined quitter = ConnectAndJoin(coord->address(), 2, 0, DataAddr(0), 200);
    EXPECT_TRUE(absl::IsDeadlineExceeded(quitter.roster.status()))
        << quitter.roster.status();
  }
  // The world size and rank 0 it claimed are free again, at once.
  Joined j = ConnectAndJoin(coord->address(), 1, 0, DataAddr(1));
  ASSERT_TRUE(j.roster.ok()) << j.roster.status();
}

TEST(Coordinator, ClientRetriesUntilCoordinatorStarts) {
  uint16_t port = UnusedPort();
  std::string addr = "127.0.0.1:" + std::to_string(port);
  auto peer = JoinAsync(addr, 1, -1, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto coord = Coordinator::Start(addr, kNoToken);
  ASSERT_TRUE(coord.ok()) << coord.status();
  Joined j = peer.get();
  ASSERT_TRUE(j.roster.ok()) << j.roster.status();
  EXPECT_EQ(j.roster->rank, 0);
}

TEST(Coordinator, UnreachableCoordinatorTimesOutWithinDeadline) {
  HostPort addr{"127.0.0.1", UnusedPort()};
  auto start = std::chrono::steady_clock::now();
  auto client = CoordinatorClient::Connect(addr, kNoToken, DeadlineAfterMs(500));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(client.status())) << client.status();
  EXPECT_NE(client.status().message().find(addr.ToString()), std::string::npos)
      << client.status();
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
}

TEST(Coordinator, ReportsBadAddresses) {
  auto first = StartCoordinator();
  auto second = Coordinator::Start(first->address(), kNoToken);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_NE(second.status().message().find(first->address()), std::string::npos)
      << second.status();
  EXPECT_TRUE(absl::IsInvalidArgument(Coordinator::Start("no-port", kNoToken).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(Coordinator::Start("127.0.0.1:70000", kNoToken).status()));
  auto unresolvable = CoordinatorClient::Connect(
      HostPort{"no-such-host.invalid", 1}, kNoToken, DeadlineAfterMs(kDeadlineMs));
  EXPECT_TRUE(absl::IsInvalidArgument(unresolvable.status()))
      << unresolvable.status();
}

TEST(Coordinator, ClientValidatesArguments) {
  auto coord = StartCoordinator();
  auto client = CoordinatorClient::Connect(Addr(coord->address()), kNoToken,
                                           DeadlineAfterMs(kDeadlineMs));
  ASSERT_TRUE(client.ok());
  auto deadline = DeadlineAfterMs(kDeadlineMs);
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*client)->Join(0, -1, DataAddr(0), deadline).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*client)->Join(2, 2, DataAddr(0), deadline).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*client)->Join(2, -2, DataAddr(0), deadline).status()));
  // Argument errors do not spend the connection.
  EXPECT_TRUE((*client)->Join(1, 0, DataAddr(0), deadline).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      (*client)->Join(1, 0, DataAddr(0), deadline).status()));
}

TEST(Coordinator, JoinFailsUnavailableWhenCoordinatorGoesAway) {
  auto coord = StartCoordinator();
  auto client = CoordinatorClient::Connect(Addr(coord->address()), kNoToken,
                                           DeadlineAfterMs(kDeadlineMs));
  ASSERT_TRUE(client.ok());
  auto waiting = std::async(std::launch::async, [&] {
    return (*client)->Join(2, -1, DataAddr(0), DeadlineAfterMs(kDeadlineMs));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  coord.reset();
  absl::StatusOr<Roster> r = waiting.get();
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
}

TEST(Coordinator, DropsMalformedConnectionsAndKeepsServing) {
  auto coord = StartCoordinator();
  const std::string addr = coord->address();
  {  // 48 bytes of garbage: bad magic.
    transport::Fd fd = RawConnect(addr);
    SendBytes(fd.get(),
              std::vector<uint8_t>(transport::kFrameHeaderSize, 0xAB));
    EXPECT_TRUE(ClosedWithin(fd.get(), 2000));
  }
  {  // Valid header, payload of an unknown message type.
    transport::Fd fd = RawConnect(addr);
    SendBytes(fd.get(), ControlFrame({0xEE, 1, 2, 3}, 4));
    EXPECT_TRUE(ClosedWithin(fd.get(), 2000));
  }
  {  // A length beyond the coordinator's limit is refused before buffering.
    transport::Fd fd = RawConnect(addr);
    SendBytes(fd.get(), ControlFrame({}, 1u << 20));
    EXPECT_TRUE(ClosedWithin(fd.get(), 2000));
  }
  {  // A data frame where control frames belong.
    transport::Fd fd = RawConnect(addr);
    std::vector<uint8_t> frame = ControlFrame({}, 0);
    frame[6] = uint8_t(transport::FrameType::kData);
    SendBytes(fd.get(), frame);
    EXPECT_TRUE(ClosedWithin(fd.get(), 2000));
  }
  {  // A JOIN out of order, before HELLO.
    transport::Fd fd = RawConnect(addr);
    SendBytes(fd.get(), EncodeFrame(JoinMsg{2, -1, DataAddr(0)}));
    EXPECT_TRUE(ClosedWithin(fd.get(), 2000));
  }
  {  // Joins (world 5, rank 0) properly, then sends a truncated JOIN: it is
     // dropped, and so is its place in the group.
    transport::Fd fd = RawConnect(addr);
    SendBytes(fd.get(), EncodeFrame(HelloMsg{}));
    auto welcome = ReadMessage(fd.get(), kCoordinatorToPeerLimits,
                               DeadlineAfterMs(kDeadlineMs));
    ASSERT_TRUE(welcome.ok()) << welcome.status();
    SendBytes(fd.get(), EncodeFrame(JoinMsg{5, 0, DataAddr(0)}));
    std::vector<uint8_t> join = EncodePayload(JoinMsg{5, 1, DataAddr(1)});
    join.resize(join.size() - 3);
    SendBytes(fd.get(), ControlFrame(join, uint32_t(join.size())));
    EXPECT_TRUE(ClosedWithin(fd.get(), 2000));
  }
  {  // A header that promises more payload than ever arrives, then silence
     // and close: nothing changes.
    transport::Fd fd = RawConnect(addr);
    std::vector<uint8_t> frame =
        ControlFrame({uint8_t(MsgType::kHello), 1}, 40);
    SendBytes(fd.get(), frame);
  }
  // World size 5 and rank 0 from the dropped joiner are gone.
  std::vector<Joined> group = JoinAll(addr, 2, {0, -1});
  ExpectConsistent(group, 2);
}

TEST(CoordinatorServer, DropsSilentConnectionsAfterHandshakeTimeout) {
  ServerOptions options;
  options.handshake_timeout_ms = 200;
  auto server = Server::Start("127.0.0.1:0", options);
  ASSERT_TRUE(server.ok()) << server.status();
  transport::Fd fd = RawConnect((*server)->address().ToString());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ClosedWithin(fd.get(), 3000));
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(150));
}

TEST(CoordinatorServer, CapsPendingConnections) {
  ServerOptions options;
  options.max_pending = 2;
  auto server = Server::Start("127.0.0.1:0", options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string addr = (*server)->address().ToString();
  transport::Fd a = RawConnect(addr);
  transport::Fd b = RawConnect(addr);
  // Handshakes in progress are not cut short by the cap...
  EXPECT_FALSE(ClosedWithin(a.get(), 200));
  transport::Fd c = RawConnect(addr);
  // ...the connection beyond it is closed at once.
  EXPECT_TRUE(ClosedWithin(c.get(), 2000));
  EXPECT_FALSE(ClosedWithin(b.get(), 100));
  a.reset();
  b.reset();
  // Room again: a real peer gets through.
  Joined j = JoinRetryingWhileFormed(addr, 1, -1, DataAddr(0));
  EXPECT_TRUE(j.roster.ok()) << j.roster.status();
}

// The standalone tool: prints its address, serves one run after another,
// and exits cleanly on SIGTERM.
TEST(CoordinatorTool, ServesSuccessiveRunsUntilSigterm) {
  std::string tool = std::string(MERIDIAN_BIN_DIR) + "/meridian-coordinator";
  ASSERT_EQ(access(tool.c_str(), X_OK), 0) << tool << " is not built";
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const std::string token = "coordinator-tool-test-token";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    setenv("MERIDIAN_AUTH_TOKEN", token.c_str(), 1);
    execl(tool.c_str(), tool.c_str(), "--listen", "127.0.0.1:0",
          (char*)nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string line;
  auto deadline = DeadlineAfterMs(kDeadlineMs);
  while (line.find('\n') == std::string::npos) {
    struct pollfd p = {out[0], POLLIN, 0};
    if (poll(&p, 1, transport::MillisLeft(deadline)) <= 0) break;
    char buf[256];
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, n);
  }
  close(out[0]);
  const std::string prefix = "meridian-coordinator listening on ";
  ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
  std::string addr =
      line.substr(prefix.size(), line.find('\n') - prefix.size());
  // Back to back, as successive runs would come: no pause between them.
  for (int run = 0; run < 3; ++run) {
    ExpectConsistent(
        JoinAll(addr, run + 2, std::vector<int>(run + 2, -1), token), run + 2);
  }
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "meridian-coordinator ignored SIGTERM";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace meridian::coordinator
