// The tools' side of authentication, run as programs the way users run
// them: meridian-coordinator refuses to start without a token unless told
// --insecure, and meridian-run hands its ranks a token (generated, or the
// user's) with which a communicator works.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace {

#define EXPECT_HAS_SUBSTR(text, part)                        \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "'" << (text) << "' does not contain '" << (part) << "'"

const std::string kBin = MERIDIAN_BIN_DIR;
// A peer program that is built whenever the tests are (perf tools may be
// off, e.g. in the sanitizer build): README's example, one all-reduce.
const std::string kPeer = kBin + "/../tests/readme_example";

struct Result {
  int status = -1;
  std::string out;  // stdout and stderr together
};

// Runs a shell command line with a time limit (coreutils timeout), so a
// tool that hangs fails the test instead of stalling the suite.
Result Shell(const std::string& cmd, int limit_s = 60) {
  Result r;
  std::string line = "timeout -k 5 " + std::to_string(limit_s) + " sh -c '" +
                     cmd + "' 2>&1";
  FILE* p = popen(line.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// The tools' environment is stated on each command line; nothing from the
// test's own environment may decide the outcome.
const char kClean[] =
    "env -u MERIDIAN_AUTH_TOKEN -u MERIDIAN_AUTH_TOKEN_FILE -u "
    "MERIDIAN_INSECURE ";

TEST(CoordinatorToolAuth, RefusesToStartWithoutATokenUnlessInsecure) {
  Result refused = Shell(std::string(kClean) + kBin +
                         "/meridian-coordinator --listen 127.0.0.1:0");
  EXPECT_EQ(refused.status, 1) << refused.out;
  EXPECT_HAS_SUBSTR(refused.out, "refusing to start without an auth token");
  EXPECT_HAS_SUBSTR(refused.out, "MERIDIAN_AUTH_TOKEN");
  EXPECT_HAS_SUBSTR(refused.out, "--insecure");

  // With --insecure it serves; `timeout` stops it with SIGTERM after 1 s,
  // which it takes as a clean shutdown.
  Result insecure =
      Shell(std::string(kClean) + "timeout --preserve-status 1 " + kBin +
            "/meridian-coordinator --listen 127.0.0.1:0 --insecure");
  EXPECT_EQ(insecure.status, 0) << insecure.out;
  EXPECT_HAS_SUBSTR(insecure.out, "listening on 127.0.0.1:");
  EXPECT_HAS_SUBSTR(insecure.out, "insecure");

  Result with_token =
      Shell(std::string(kClean) + "MERIDIAN_AUTH_TOKEN=t timeout --preserve-status 1 " + kBin +
            "/meridian-coordinator --listen 127.0.0.1:0");
  EXPECT_EQ(with_token.status, 0) << with_token.out;
  EXPECT_HAS_SUBSTR(with_token.out, "listening on 127.0.0.1:");
  EXPECT_EQ(with_token.out.find("insecure"), std::string::npos)
      << with_token.out;
}

TEST(CoordinatorToolAuth, InsecureModeNeedsConsentOnBothSides) {
  // An --insecure coordinator serves a peer with MERIDIAN_INSECURE=1, and
  // refuses one that has a token (no silent downgrade).
  const std::string perf = kPeer;
  Result r = Shell(
      "unset MERIDIAN_AUTH_TOKEN MERIDIAN_AUTH_TOKEN_FILE MERIDIAN_INSECURE; "
      "f=$(mktemp); " + kBin +
      "/meridian-coordinator --listen 127.0.0.1:0 --insecure > $f & c=$!; "
      "for i in 1 2 3 4 5 6 7 8 9 10; do grep -q listening $f && break; "
      "sleep 0.2; done; "
      "a=$(sed -n \"s/.*listening on \\([^ ]*\\).*/\\1/p\" $f); "
      "export MERIDIAN_COORDINATOR=$a MERIDIAN_WORLD_SIZE=1 "
      "MERIDIAN_CONNECT_TIMEOUT_MS=5000; "
      "MERIDIAN_INSECURE=1 " + perf + " >/dev/null; echo insecure-rc=$?; "
      "MERIDIAN_AUTH_TOKEN=t " + perf + "; echo token-rc=$?; "
      "kill $c; rm -f $f");
  EXPECT_HAS_SUBSTR(r.out, "insecure-rc=0");
  EXPECT_EQ(r.out.find("token-rc=0"), std::string::npos) << r.out;
  EXPECT_HAS_SUBSTR(r.out, "this coordinator runs without a token");
}

// Each rank says whether it has a token, then runs a real all-reduce.
std::string RanksReportToken(const std::string& env) {
  return std::string(kClean) + env + kBin +
         "/meridian-run -n 2 --timeout 60 -- sh -c \"echo token-\\${"
         "MERIDIAN_AUTH_TOKEN:+set}-\\${#MERIDIAN_AUTH_TOKEN}; exec " +
         kPeer + "\"";
}

TEST(MeridianRunAuth, GeneratesATokenForItsRanks) {
  Result r = Shell(RanksReportToken(""));
  EXPECT_EQ(r.status, 0) << r.out;
  // 32 random bytes in hex, the same in both ranks (else they could not
  // have joined).
  EXPECT_HAS_SUBSTR(r.out, "[0] token-set-64");
  EXPECT_HAS_SUBSTR(r.out, "[1] token-set-64");
}

TEST(MeridianRunAuth, UsesTheUsersToken) {
  Result r = Shell(RanksReportToken("MERIDIAN_AUTH_TOKEN=mine "));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_HAS_SUBSTR(r.out, "[0] token-set-4");
  EXPECT_HAS_SUBSTR(r.out, "[1] token-set-4");
}

TEST(MeridianRunAuth, RankWithTheWrongTokenIsRefused) {
  // One rank overrides the token it was given: it must fail with a clear
  // error instead of joining.
  Result r = Shell(std::string(kClean) + kBin +
                   "/meridian-run -n 1 --timeout 60 -- sh -c \"MERIDIAN_AUTH_"
                   "TOKEN=wrong MERIDIAN_CONNECT_TIMEOUT_MS=5000 exec " +
                   kPeer + "\"");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_HAS_SUBSTR(r.out, "authentication failed");
}

}  // namespace
