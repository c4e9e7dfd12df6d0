// Tests of meridian-run, run as a program the way users run it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const std::string kLauncher = std::string(MERIDIAN_BIN_DIR) + "/meridian-run";

struct Result {
  int status = -1;  // shell convention: exit code, or 128+signal
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

pid_t Spawn(const std::vector<std::string>& args, int* out_fd, int* err_fd) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return -1;
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  *out_fd = out[0];
  *err_fd = err[0];
  return pid;
}

// Collects the launcher's output until it exits; a launcher that outlives
// limit_ms is killed and the test fails.
Result Wait(pid_t pid, int out_fd, int err_fd, int limit_ms,
            Clock::time_point start) {
  Result r;
  auto deadline = start + std::chrono::milliseconds(limit_ms);
  int fds[2] = {out_fd, err_fd};
  std::string* sinks[2] = {&r.out, &r.err};
  while (fds[0] >= 0 || fds[1] >= 0) {
    struct pollfd p[2];
    for (int i = 0; i < 2; ++i) p[i] = {fds[i], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - Clock::now())
                    .count();
    if (left <= 0) {
      ADD_FAILURE() << "meridian-run did not finish within " << limit_ms
                    << " ms";
      kill(pid, SIGKILL);
      break;
    }
    poll(p, 2, static_cast<int>(left));
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || p[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = read(fds[i], buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, n);
      } else if (!(n < 0 && errno == EINTR)) {
        close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      Clock::now() - start);
  r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  return r;
}

Result RunLauncher(const std::vector<std::string>& args, int limit_ms = 10000) {
  std::vector<std::string> full = {kLauncher};
  full.insert(full.end(), args.begin(), args.end());
  int out_fd, err_fd;
  auto start = Clock::now();
  pid_t pid = Spawn(full, &out_fd, &err_fd);
  EXPECT_GT(pid, 0);
  return Wait(pid, out_fd, err_fd, limit_ms, start);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kLauncher.c_str(), X_OK), 0)
        << kLauncher << " is not built (build the meridian-run target)";
    char tmpl[] = "/tmp/meridian-launcher-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // PIDs the ranks wrote to dir_/pid.* (one per line).
  std::vector<pid_t> RecordedPids() {
    std::vector<pid_t> pids;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().filename().string().rfind("pid.", 0) != 0) continue;
      std::ifstream in(entry.path());
      for (pid_t p; in >> p;) pids.push_back(p);
    }
    return pids;
  }

  void ExpectAllGone(const std::vector<pid_t>& pids) {
    for (pid_t p : pids) {
      errno = 0;
      EXPECT_EQ(kill(p, 0), -1) << "process " << p << " is still alive";
      EXPECT_EQ(errno, ESRCH) << "process " << p;
    }
  }

  std::string dir_;
};

TEST_F(LauncherTest, HelpAndUsageErrors) {
  Result help = RunLauncher({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("usage: meridian-run"), std::string::npos);
  EXPECT_EQ(RunLauncher({"--", "/bin/true"}).status, 2);       // no -n
  EXPECT_EQ(RunLauncher({"-n", "0", "/bin/true"}).status, 2);  // bad -n
  EXPECT_EQ(RunLauncher({"-n", "1"}).status, 2);               // no program
  EXPECT_EQ(RunLauncher({"-n", "1", "--bogus", "/bin/true"}).status, 2);
  Result missing = RunLauncher({"-n", "2", "--", "/no/such/program"});
  EXPECT_EQ(missing.status, 127);
  EXPECT_NE(missing.err.find("/no/such/program"), std::string::npos)
      << missing.err;
}

TEST_F(LauncherTest, PrefixesWholeLinesWithTheRank) {
  // Long lines written in pieces by several ranks at once: each must come
  // out whole, under its own rank's prefix.
  std::string script =
      "i=0; while [ $i -lt 200 ]; do "
      "printf 'rank %s line %s ' $MERIDIAN_RANK $i; "
      "printf 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\n'; i=$((i+1)); done; "
      "echo to-stderr >&2; printf 'no newline'";
  Result r = RunLauncher({"-n", "3", "--", "/bin/sh", "-c", script});
  EXPECT_EQ(r.status, 0) << r.err;
  std::regex line_re(R"(\[(\d)\] rank (\d) line (\d+) x{40})");
  std::regex partial_re(R"(\[(\d)\] no newline)");
  int full = 0, partial = 0;
  for (const std::string& line : Lines(r.out)) {
    std::smatch m;
    if (std::regex_match(line, m, line_re)) {
      EXPECT_EQ(m[1], m[2]) << line;
      ++full;
    } else if (std::regex_match(line, m, partial_re)) {
      ++partial;
    } else {
      ADD_FAILURE() << "unexpected line: '" << line << "'";
    }
  }
  EXPECT_EQ(full, 600);
  EXPECT_EQ(partial, 3);
  std::set<std::string> err_lines;
  for (const std::string& line : Lines(r.err)) err_lines.insert(line);
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(err_lines.count("[" + std::to_string(rank) + "] to-stderr"), 1u)
        << r.err;
  }
}

TEST_F(LauncherTest, SetsTheMeridianEnvironment) {
  Result r = RunLauncher(
      {"-n", "2", "--", "/bin/sh", "-c",
       "echo \"$MERIDIAN_COORDINATOR $MERIDIAN_WORLD_SIZE $MERIDIAN_RANK "
       "$MERIDIAN_LOCAL_RANK\""});
  EXPECT_EQ(r.status, 0) << r.err;
  std::regex re(R"(\[(\d)\] 127\.0\.0\.1:(\d+) 2 (\d) (\d))");
  std::set<std::string> ranks;
  for (const std::string& line : Lines(r.out)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, re)) << line;
    EXPECT_EQ(m[1], m[3]);
    EXPECT_EQ(m[3], m[4]);
    EXPECT_NE(m[2], "0");
    ranks.insert(m[3]);
  }
  EXPECT_EQ(ranks, (std::set<std::string>{"0", "1"}));
}

TEST_F(LauncherTest, PropagatesTheFailingRanksStatus) {
  Result ok = RunLauncher({"-n", "3", "--", "/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  Result r = RunLauncher({"-n", "3", "--", "/bin/sh", "-c",
                          "[ $MERIDIAN_RANK = 2 ] && exit 3; exit 0"});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("rank 2 exited with status 3"), std::string::npos)
      << r.err;
}

TEST_F(LauncherTest, ReportsARankKilledBySignal) {
  Result r = RunLauncher({"-n", "2", "--", "/bin/sh", "-c",
                          "[ $MERIDIAN_RANK = 1 ] && kill -9 $$; exit 0"});
  EXPECT_EQ(r.status, 128 + 9);
  EXPECT_NE(r.err.find("rank 1 killed by signal 9"), std::string::npos)
      << r.err;
}

TEST_F(LauncherTest, FailureGivesOthersGraceThenKillsThem) {
  std::string script = "echo $$ > " + dir_ +
                       "/pid.$MERIDIAN_RANK; "
                       "[ $MERIDIAN_RANK = 0 ] && exit 4; exec sleep 1000";
  Result r =
      RunLauncher({"-n", "3", "--grace", "0.5", "--", "/bin/sh", "-c", script});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("rank 0 exited with status 4"), std::string::npos)
      << r.err;
  EXPECT_GE(r.elapsed, std::chrono::milliseconds(400));
  EXPECT_LT(r.elapsed, std::chrono::milliseconds(5000));
  std::vector<pid_t> pids = RecordedPids();
  EXPECT_EQ(pids.size(), 3u);
  ExpectAllGone(pids);
}

TEST_F(LauncherTest, TimeoutKillsEveryRankAndExits124) {
  std::string script =
      "echo $$ > " + dir_ + "/pid.$MERIDIAN_RANK; exec sleep 1000";
  Result r =
      RunLauncher({"-n", "2", "--timeout", "1", "--", "/bin/sh", "-c", script});
  EXPECT_EQ(r.status, 124) << r.err;
  EXPECT_NE(r.err.find("timeout"), std::string::npos) << r.err;
  EXPECT_GE(r.elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(r.elapsed, std::chrono::milliseconds(5000));
  std::vector<pid_t> pids = RecordedPids();
  EXPECT_EQ(pids.size(), 2u);
  ExpectAllGone(pids);
}

TEST_F(LauncherTest, RanksThatIgnoreSigtermAreKilled) {
  std::string script = "trap '' TERM; echo $$ > " + dir_ +
                       "/pid.$MERIDIAN_RANK; while :; do sleep 0.1; done";
  Result r = RunLauncher(
      {"-n", "2", "--timeout", "0.5", "--", "/bin/sh", "-c", script});
  EXPECT_EQ(r.status, 124) << r.err;
  EXPECT_NE(r.err.find("SIGKILL"), std::string::npos) << r.err;
  ExpectAllGone(RecordedPids());
}

TEST_F(LauncherTest, LeavesNoBackgroundProcessBehind) {
  // Each rank starts a background job that keeps the output pipes open,
  // then exits successfully.
  std::string script =
      "sleep 1000 & echo $! > " + dir_ + "/pid.$MERIDIAN_RANK; exit 0";
  Result r = RunLauncher({"-n", "2", "--", "/bin/sh", "-c", script});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_LT(r.elapsed, std::chrono::milliseconds(5000));
  std::vector<pid_t> pids = RecordedPids();
  EXPECT_EQ(pids.size(), 2u);
  ExpectAllGone(pids);
}

TEST_F(LauncherTest, SigtermToTheLauncherStopsEveryRank) {
  std::string script =
      "echo $$ > " + dir_ + "/pid.$MERIDIAN_RANK; exec sleep 1000";
  int out_fd, err_fd;
  auto start = Clock::now();
  pid_t pid = Spawn({kLauncher, "-n", "2", "--", "/bin/sh", "-c", script},
                    &out_fd, &err_fd);
  ASSERT_GT(pid, 0);
  // Wait until both ranks are up.
  for (int i = 0; i < 500 && RecordedPids().size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGTERM);
  Result r = Wait(pid, out_fd, err_fd, 10000, start);
  EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;
  std::vector<pid_t> pids = RecordedPids();
  EXPECT_EQ(pids.size(), 2u);
  ExpectAllGone(pids);
}

}  // namespace
