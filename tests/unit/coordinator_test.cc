#include "runtime/coordinator/coordinator.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
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

TEST(CoordinatorProtocol, RoundTripsEveryMessage) {
  Roster roster{0x1234, 1, 2, 3, {DataAddr(0), DataAddr(1), {"::1", 7}}};
  std::vector<ControlMessage> msgs = {
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
