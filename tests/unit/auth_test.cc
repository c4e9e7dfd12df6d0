// Shared-token authentication: the HMAC itself, where the token comes from,
// and the peer<->coordinator handshake (right token, wrong token, token on
// one side only, a replayed transcript), through the C++ API, raw sockets
// and the C API.  The peer<->peer handshake is in auth_mesh_test.cc, the
// tools in auth_tools_test.cc.
#include "transport/auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/protocol.h"
#include "runtime/coordinator/server.h"
#include "transport/socket.h"

namespace meridian {
namespace {

using coordinator::ControlMessage;
using coordinator::Coordinator;
using coordinator::CoordinatorClient;
using coordinator::Roster;
using transport::DeadlineAfterMs;
using transport::HostPort;

#define EXPECT_HAS_SUBSTR(text, part)                        \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "'" << (text) << "' does not contain '" << (part) << "'"

constexpr int kDeadlineMs = 5000;

std::string Hex(const transport::Mac& mac) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : mac) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// Each test states the token variables it needs; none leaks into the next.
class AuthEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"MERIDIAN_AUTH_TOKEN", "MERIDIAN_AUTH_TOKEN_FILE",
                          "MERIDIAN_INSECURE"}) {
      unsetenv(v);
    }
  }
  void TearDown() override { SetUp(); }
};

TEST(HmacTest, Rfc4231KnownAnswers) {
  // RFC 4231 test case 1: 20 bytes of 0x0b, "Hi There".
  std::string key1(20, '\x0b');
  std::string data1 = "Hi There";
  EXPECT_EQ(Hex(transport::HmacSha256(
                key1, reinterpret_cast<const uint8_t*>(data1.data()),
                data1.size())),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the block, "Jefe".
  std::string data2 = "what do ya want for nothing?";
  EXPECT_EQ(Hex(transport::HmacSha256(
                "Jefe", reinterpret_cast<const uint8_t*>(data2.data()),
                data2.size())),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacTest, HandshakeMacBindsEveryInput) {
  transport::Nonce a = transport::NewNonce(), b = transport::NewNonce();
  EXPECT_NE(a, b);  // fresh randomness, not a constant
  std::vector<uint8_t> ctx = {1, 2, 3};
  transport::Mac base = transport::HandshakeMac("t", "label", "peer", a, b, ctx);
  EXPECT_TRUE(transport::MacEquals(
      base, transport::HandshakeMac("t", "label", "peer", a, b, ctx)));
  EXPECT_FALSE(transport::MacEquals(
      base, transport::HandshakeMac("u", "label", "peer", a, b, ctx)));
  EXPECT_FALSE(transport::MacEquals(
      base, transport::HandshakeMac("t", "label", "coordinator", a, b, ctx)));
  EXPECT_FALSE(transport::MacEquals(
      base, transport::HandshakeMac("t", "label", "peer", b, a, ctx)));
  EXPECT_FALSE(transport::MacEquals(
      base, transport::HandshakeMac("t", "label", "peer", a, b, {1, 2, 4})));
  EXPECT_FALSE(transport::MacEquals(
      base, transport::HandshakeMac("t", "labelp", "eer", a, b, ctx)));
}

TEST_F(AuthEnvTest, TokenFromVariableOrFile) {
  auto none = transport::ConfiguredAuthToken();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  std::string path = ::testing::TempDir() + "/meridian_auth_token_test";
  {
    std::ofstream f(path);
    f << "file-secret\n";
  }
  chmod(path.c_str(), 0600);
  setenv("MERIDIAN_AUTH_TOKEN_FILE", path.c_str(), 1);
  auto from_file = transport::ConfiguredAuthToken();
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->value(), "file-secret");  // newline trimmed

  setenv("MERIDIAN_AUTH_TOKEN", "env-secret", 1);  // the variable wins
  EXPECT_EQ(transport::ConfiguredAuthToken()->value(), "env-secret");
  unsetenv("MERIDIAN_AUTH_TOKEN");

  {
    std::ofstream f(path);
    f << "\n";
  }
  auto empty = transport::ConfiguredAuthToken();
  ASSERT_FALSE(empty.ok());
  EXPECT_HAS_SUBSTR(empty.status().message(), "empty token");
  setenv("MERIDIAN_AUTH_TOKEN_FILE", "/nonexistent/meridian-token", 1);
  EXPECT_FALSE(transport::ConfiguredAuthToken().ok());
  unlink(path.c_str());
}

TEST_F(AuthEnvTest, PeersNeedATokenOrExplicitInsecureMode) {
  auto missing = transport::ResolveAuthToken();
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(missing.status()));
  EXPECT_HAS_SUBSTR(missing.status().message(), "MERIDIAN_AUTH_TOKEN");
  setenv("MERIDIAN_INSECURE", "1", 1);
  auto insecure = transport::ResolveAuthToken();
  ASSERT_TRUE(insecure.ok());
  EXPECT_EQ(*insecure, "");
  setenv("MERIDIAN_AUTH_TOKEN", "s", 1);  // a token always wins
  EXPECT_EQ(*transport::ResolveAuthToken(), "s");
}

std::unique_ptr<Coordinator> StartCoordinator(const std::string& token) {
  auto c = Coordinator::Start("127.0.0.1:0", token);
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

HostPort Addr(const Coordinator& c) {
  return *transport::ParseHostPort(c.address());
}

HostPort DataAddr(int i) { return HostPort{"127.0.0.1", uint16_t(21000 + i)}; }

struct Joined {
  std::unique_ptr<CoordinatorClient> client;
  absl::StatusOr<Roster> roster = absl::UnknownError("not run");
};

Joined Join(const Coordinator& c, const std::string& token, int world,
            int rank) {
  Joined j;
  auto client =
      CoordinatorClient::Connect(Addr(c), token, DeadlineAfterMs(kDeadlineMs));
  if (!client.ok()) {
    j.roster = client.status();
    return j;
  }
  j.client = *std::move(client);
  j.roster = j.client->Join(world, rank, DataAddr(rank < 0 ? 9 : rank),
                            DeadlineAfterMs(kDeadlineMs));
  return j;
}

// Two peers with the token form a group of two, each with its own rank.
void ExpectGroupForms(const Coordinator& c, const std::string& token) {
  auto f0 = std::async(std::launch::async, [&] { return Join(c, token, 2, 0); });
  auto f1 = std::async(std::launch::async, [&] { return Join(c, token, 2, 1); });
  Joined j0 = f0.get(), j1 = f1.get();
  ASSERT_TRUE(j0.roster.ok()) << j0.roster.status();
  ASSERT_TRUE(j1.roster.ok()) << j1.roster.status();
  EXPECT_EQ(j0.roster->group_id, j1.roster->group_id);
  EXPECT_EQ(j0.roster->world_size, 2);
}

TEST(CoordinatorAuthTest, RightTokenJoins) {
  auto c = StartCoordinator("right");
  ExpectGroupForms(*c, "right");
}

TEST(CoordinatorAuthTest, WrongTokenIsRefusedPromptlyAndChangesNothing) {
  auto c = StartCoordinator("right");
  auto start = std::chrono::steady_clock::now();
  // World 2, rank 0: had it been counted, the group below could not form
  // with rank 0 (taken) and would form with the intruder in it.
  Joined wrong = Join(*c, "wrong", 2, 0);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(wrong.roster.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(wrong.roster.status()))
      << wrong.roster.status();
  EXPECT_HAS_SUBSTR(wrong.roster.status().message(), "authentication failed");
  EXPECT_HAS_SUBSTR(wrong.roster.status().message(), c->address());
  EXPECT_LT(elapsed, std::chrono::milliseconds(kDeadlineMs));
  ExpectGroupForms(*c, "right");
}

TEST(CoordinatorAuthTest, TokenOnOneSideOnlyIsRefusedBothWays) {
  auto secured = StartCoordinator("right");
  Joined none = Join(*secured, "", 1, 0);
  ASSERT_FALSE(none.roster.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(none.roster.status()))
      << none.roster.status();
  EXPECT_HAS_SUBSTR(none.roster.status().message(),
                    "refused: authentication failed");
  EXPECT_HAS_SUBSTR(none.roster.status().message(), "MERIDIAN_AUTH_TOKEN");

  auto open = StartCoordinator("");
  Joined has = Join(*open, "right", 1, 0);
  ASSERT_FALSE(has.roster.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(has.roster.status()))
      << has.roster.status();
  EXPECT_HAS_SUBSTR(has.roster.status().message(),
                    "refused: authentication failed");
  // Both unauthenticated: allowed (the callers checked MERIDIAN_INSECURE).
  Joined plain = Join(*open, "", 1, 0);
  EXPECT_TRUE(plain.roster.ok()) << plain.roster.status();
}

// A peer spoken from a raw socket, so that the test can record its bytes
// and forge its MAC.
class RawPeer {
 public:
  explicit RawPeer(const Coordinator& c) : RawPeer(Addr(c)) {}
  explicit RawPeer(const HostPort& addr) {
    auto fd = transport::Connect(addr, DeadlineAfterMs(kDeadlineMs), false);
    EXPECT_TRUE(fd.ok()) << fd.status();
    if (fd.ok()) fd_ = *std::move(fd);
  }
  void Send(const std::vector<uint8_t>& bytes) {
    sent_.insert(sent_.end(), bytes.begin(), bytes.end());
    ASSERT_TRUE(transport::WriteFull(fd_.get(), bytes.data(), bytes.size(),
                                     DeadlineAfterMs(kDeadlineMs))
                    .ok());
  }
  absl::StatusOr<ControlMessage> Read() {
    return coordinator::ReadMessage(fd_.get(),
                                    coordinator::kCoordinatorToPeerLimits,
                                    DeadlineAfterMs(kDeadlineMs));
  }
  const std::vector<uint8_t>& sent() const { return sent_; }
  // True when the coordinator closed the connection within `ms`.
  bool ClosedWithin(int ms) {
    uint8_t byte;
    absl::Status st =
        transport::ReadFull(fd_.get(), &byte, 1, DeadlineAfterMs(ms));
    return absl::IsUnavailable(st);
  }

 private:
  transport::Fd fd_;
  std::vector<uint8_t> sent_;
};

// Runs HELLO / WELCOME / JOIN as a legitimate peer would, with `token`
// (or a forged MAC when `forge`); returns the coordinator's answer to JOIN.
absl::StatusOr<ControlMessage> RawJoin(RawPeer& p, const std::string& token,
                                       bool forge) {
  coordinator::HelloMsg hello;
  hello.authenticated = true;
  hello.nonce = transport::NewNonce();
  p.Send(coordinator::EncodeFrame(hello));
  auto welcome = p.Read();
  if (!welcome.ok()) return welcome.status();
  const auto* w = std::get_if<coordinator::WelcomeMsg>(&*welcome);
  if (w == nullptr) return absl::InternalError("no WELCOME");
  EXPECT_TRUE(transport::MacEquals(
      w->mac, transport::HandshakeMac(token, coordinator::kCoordinatorAuthLabel,
                                      coordinator::kCoordinatorRole, w->nonce,
                                      hello.nonce, {})));
  coordinator::JoinMsg join{1, 0, DataAddr(0), {}};
  if (forge) {
    join.mac.fill(0x5a);
  } else {
    join.mac = transport::HandshakeMac(
        token, coordinator::kCoordinatorAuthLabel, coordinator::kPeerRole,
        hello.nonce, w->nonce, coordinator::JoinAuthContext(join));
  }
  p.Send(coordinator::EncodeFrame(join));
  return p.Read();
}

TEST(CoordinatorAuthTest, CoordinatorNamesThePeerThatDoesNotKnowTheToken) {
  auto c = StartCoordinator("right");
  RawPeer p(*c);
  auto answer = RawJoin(p, "right", /*forge=*/true);
  ASSERT_TRUE(answer.ok()) << answer.status();
  const auto* err = std::get_if<coordinator::ErrorMsg>(&*answer);
  ASSERT_NE(err, nullptr) << coordinator::MsgTypeName(coordinator::TypeOf(*answer));
  EXPECT_EQ(err->code, absl::StatusCode::kPermissionDenied);
  EXPECT_HAS_SUBSTR(err->message, "authentication failed: peer at 127.0.0.1:");
  EXPECT_HAS_SUBSTR(err->message, "does not know the token");
}

TEST(CoordinatorAuthTest, ReplayedHandshakeIsRefused) {
  auto c = StartCoordinator("right");
  std::vector<uint8_t> recorded;
  {
    RawPeer legit(*c);
    auto answer = RawJoin(legit, "right", /*forge=*/false);
    ASSERT_TRUE(answer.ok()) << answer.status();
    ASSERT_TRUE(std::holds_alternative<coordinator::RosterMsg>(*answer));
    recorded = legit.sent();
  }  // the group of one dissolves when the legitimate peer leaves
  // Replay every byte the legitimate peer sent, on a new connection: the
  // coordinator's nonce is new, so the recorded JOIN's MAC no longer fits.
  RawPeer replay(*c);
  replay.Send(recorded);
  auto welcome = replay.Read();
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  EXPECT_TRUE(std::holds_alternative<coordinator::WelcomeMsg>(*welcome));
  auto verdict = replay.Read();
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  const auto* err = std::get_if<coordinator::ErrorMsg>(&*verdict);
  ASSERT_NE(err, nullptr) << "replayed JOIN was accepted";
  EXPECT_EQ(err->code, absl::StatusCode::kPermissionDenied);
  EXPECT_HAS_SUBSTR(err->message, "authentication failed");
  // And nothing was counted: a group of one still forms for a real peer.
  Joined real = Join(*c, "right", 1, 0);
  EXPECT_TRUE(real.roster.ok()) << real.roster.status();
}

TEST(CoordinatorAuthTest, LimitsHoldBeforeAuthenticationCompletes) {
  coordinator::ServerOptions options;
  options.auth_token = "right";
  options.handshake_timeout_ms = 300;
  options.max_pending = 1;
  auto server = coordinator::Server::Start("127.0.0.1:0", options);
  ASSERT_TRUE(server.ok()) << server.status();
  const HostPort addr = (*server)->address();
  // Halfway through the handshake (WELCOME received, no JOIN yet)...
  RawPeer halfway(addr);
  coordinator::HelloMsg hello;
  hello.authenticated = true;
  hello.nonce = transport::NewNonce();
  halfway.Send(coordinator::EncodeFrame(hello));
  auto welcome = halfway.Read();
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  // ...the connection fills the pending cap: the next one is closed at once,
  RawPeer over_cap(addr);
  EXPECT_TRUE(over_cap.ClosedWithin(2000));
  // and it is itself dropped when the handshake timeout passes.
  EXPECT_TRUE(halfway.ClosedWithin(2000));
  // A frame longer than a peer may send is refused from its header, before
  // any payload is buffered.
  RawPeer oversized(addr);
  std::vector<uint8_t> frame = coordinator::EncodeFrame(hello);
  transport::FrameHeader h;
  h.type = transport::FrameType::kControl;
  h.length = coordinator::kPeerToCoordinatorLimits.max_control_payload + 1;
  transport::EncodeFrameHeader(h, frame.data());
  oversized.Send(frame);
  EXPECT_TRUE(oversized.ClosedWithin(2000));
}

TEST_F(AuthEnvTest, CApiCoordinatorNeedsATokenOrInsecure) {
  mdnCoordinator_t coord = nullptr;
  EXPECT_EQ(mdnCoordinatorCreate("127.0.0.1:0", &coord), mdnInvalidUsage);
  EXPECT_HAS_SUBSTR(mdnGetLastError(), "MERIDIAN_AUTH_TOKEN");
  EXPECT_HAS_SUBSTR(mdnGetLastError(), "MERIDIAN_INSECURE=1");
  setenv("MERIDIAN_INSECURE", "1", 1);
  ASSERT_EQ(mdnCoordinatorCreate("127.0.0.1:0", &coord), mdnSuccess)
      << mdnGetLastError();
  mdnCoordinatorDestroy(coord);
}

TEST_F(AuthEnvTest, CApiWrongTokenIsInvalidUsageWithAClearMessage) {
  setenv("MERIDIAN_AUTH_TOKEN", "coordinator-token", 1);
  mdnCoordinator_t coord = nullptr;
  ASSERT_EQ(mdnCoordinatorCreate("127.0.0.1:0", &coord), mdnSuccess)
      << mdnGetLastError();
  char addr[128];
  ASSERT_EQ(mdnCoordinatorGetAddress(coord, addr, sizeof(addr)), mdnSuccess);
  setenv("MERIDIAN_AUTH_TOKEN", "another-token", 1);
  mdnCommConfig_t cfg;
  mdnCommConfigInit(&cfg);
  cfg.coordinator = addr;
  cfg.world_size = 1;
  cfg.connect_timeout_ms = kDeadlineMs;
  mdnComm_t comm = nullptr;
  EXPECT_EQ(mdnCommCreate(&cfg, &comm), mdnInvalidUsage);
  EXPECT_HAS_SUBSTR(mdnGetLastError(), "authentication failed");

  setenv("MERIDIAN_AUTH_TOKEN", "coordinator-token", 1);
  ASSERT_EQ(mdnCommCreate(&cfg, &comm), mdnSuccess) << mdnGetLastError();
  mdnCommDestroy(comm);
  mdnCoordinatorDestroy(coord);
}

}  // namespace
}  // namespace meridian
