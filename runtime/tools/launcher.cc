#include "runtime/tools/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/tools/line_prefixer.h"

extern char** environ;

namespace meridian::tools {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// Signals reach the poll loop through this pipe (the self-pipe trick):
// the handler only writes the signal number.
int g_signal_pipe_write = -1;

void OnSignal(int sig) {
  int saved = errno;
  uint8_t byte = static_cast<uint8_t>(sig);
  ssize_t ignored = write(g_signal_pipe_write, &byte, 1);
  (void)ignored;
  errno = saved;
}

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP};

void Say(const std::string& msg) {
  std::string line = absl::StrCat("meridian-run: ", msg, "\n");
  WriteAll(STDERR_FILENO, line.data(), line.size());
}

TimePoint After(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}

std::string Seconds(double s) { return absl::StrCat(s, " s"); }

// execve needs a path; searching PATH here, before fork, keeps the child
// to async-signal-safe calls (the launcher has a coordinator thread).
std::optional<std::string> ResolveProgram(const std::string& name) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return name;
    return std::nullopt;
  }
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(
           path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (executable(candidate)) return candidate;
  }
  return std::nullopt;
}

bool IsLauncherVariable(const char* entry) {
  for (const char* name : {"MERIDIAN_COORDINATOR=", "MERIDIAN_WORLD_SIZE=",
                           "MERIDIAN_RANK=", "MERIDIAN_LOCAL_RANK="}) {
    if (strncmp(entry, name, strlen(name)) == 0) return true;
  }
  return false;
}

// Exit status in shell convention: the code, or 128+signal.
int ShellStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

std::string DescribeExit(int rank, int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return absl::StrCat("rank ", rank, " killed by signal ", sig, " (",
                        strsignal(sig), ")");
  }
  return absl::StrCat("rank ", rank, " exited with status ",
                      WEXITSTATUS(wait_status));
}

struct Child {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  bool stopped_by_us = false;
  int out_fd = -1;  // read ends of the child's stdout and stderr pipes
  int err_fd = -1;
  std::unique_ptr<LinePrefixer> out;
  std::unique_ptr<LinePrefixer> err;
};

class Supervisor {
 public:
  explicit Supervisor(const LaunchOptions& options) : options_(options) {}
  ~Supervisor();
  int Run();

 private:
  bool Setup();
  bool StartRank(int rank, const std::string& path);
  void Loop();
  int PollTimeoutMs() const;
  void ReadSignals(int fd);
  void ReadOutput(int& fd, LinePrefixer& prefixer);
  void Reap();
  void OnExit(Child& c, int wait_status);
  void TerminateAll();
  void CleanUpGroups();
  bool AnyRunning() const;
  bool AnyPipeOpen() const;
  std::string RunningRanks() const;
  int ExitStatus() const;

  LaunchOptions options_;
  std::vector<Child> children_;
  std::vector<std::string> base_env_;
  int signal_pipe_[2] = {-1, -1};
  int dev_null_ = -1;
  struct sigaction old_actions_[NSIG];
  bool handlers_installed_ = false;

  int interrupted_by_ = 0;
  bool timed_out_ = false;
  std::optional<int> first_failure_;  // shell status of the first failure
  std::optional<int> start_failure_;
  bool terminating_ = false;
  bool sigkill_sent_ = false;
  std::optional<TimePoint> timeout_at_;
  std::optional<TimePoint> grace_until_;
  std::optional<TimePoint> kill_at_;
  std::optional<TimePoint> drain_until_;
};

Supervisor::~Supervisor() {
  for (Child& c : children_) {
    if (c.out_fd >= 0) close(c.out_fd);
    if (c.err_fd >= 0) close(c.err_fd);
  }
  if (handlers_installed_) {
    for (int sig : kForwardedSignals)
      sigaction(sig, &old_actions_[sig], nullptr);
    sigaction(SIGCHLD, &old_actions_[SIGCHLD], nullptr);
    sigaction(SIGPIPE, &old_actions_[SIGPIPE], nullptr);
  }
  g_signal_pipe_write = -1;
  for (int fd : signal_pipe_) {
    if (fd >= 0) close(fd);
  }
  if (dev_null_ >= 0) close(dev_null_);
}

bool Supervisor::Setup() {
  if (pipe2(signal_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    Say(absl::StrCat("pipe: ", strerror(errno)));
    return false;
  }
  dev_null_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  g_signal_pipe_write = signal_pipe_[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : kForwardedSignals) sigaction(sig, &sa, &old_actions_[sig]);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, &old_actions_[SIGCHLD]);
  // A closed stdout must not kill the launcher before it has stopped the
  // ranks; the children get the default back before exec.
  struct sigaction ignore;
  memset(&ignore, 0, sizeof(ignore));
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_actions_[SIGPIPE]);
  handlers_installed_ = true;
  // Orphans of a rank (a shell's background job) are re-parented to the
  // launcher, so they can be reaped and do not turn into stray zombies.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  for (char** e = environ; *e != nullptr; ++e) {
    if (!IsLauncherVariable(*e)) base_env_.emplace_back(*e);
  }
  return true;
}

bool Supervisor::StartRank(int rank, const std::string& path) {
  int out[2], err[2], exec_report[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
      pipe2(exec_report, O_CLOEXEC) != 0) {
    Say(absl::StrCat("cannot start rank ", rank, ": pipe: ", strerror(errno)));
    start_failure_ = 1;
    return false;
  }
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls are allowed.
  std::vector<std::string> env = base_env_;
  env.push_back(
      absl::StrCat("MERIDIAN_COORDINATOR=", options_.coordinator_address));
  env.push_back(absl::StrCat("MERIDIAN_WORLD_SIZE=", options_.num_ranks));
  env.push_back(absl::StrCat("MERIDIAN_RANK=", rank));
  env.push_back(absl::StrCat("MERIDIAN_LOCAL_RANK=", rank));
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options_.argv;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    // If the launcher is killed outright, its ranks must not run on.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE})
      signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (dev_null_ >= 0) dup2(dev_null_, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execve(path.c_str(), argv.data(), envp.data());
    int e = errno;
    ssize_t ignored = write(exec_report[1], &e, sizeof(e));
    (void)ignored;
    _exit(127);
  }
  int saved_errno = errno;
  close(out[1]);
  close(err[1]);
  close(exec_report[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    close(exec_report[0]);
    Say(absl::StrCat("cannot start rank ", rank,
                     ": fork: ", strerror(saved_errno)));
    start_failure_ = 1;
    return false;
  }
  // Also here, so that the group exists before any killpg from us.
  setpgid(pid, pid);
  Child& c = children_.emplace_back();
  c.rank = rank;
  c.pid = pid;
  c.running = true;
  c.out_fd = out[0];
  c.err_fd = err[0];
  fcntl(c.out_fd, F_SETFL, O_NONBLOCK);
  fcntl(c.err_fd, F_SETFL, O_NONBLOCK);
  std::string prefix = absl::StrCat("[", rank, "] ");
  c.out = std::make_unique<LinePrefixer>(STDOUT_FILENO, prefix);
  c.err = std::make_unique<LinePrefixer>(STDERR_FILENO, prefix);

  // The report pipe closes on a successful exec and carries errno if not.
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(exec_report[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(exec_report[0]);
  if (n == sizeof(exec_errno)) {
    Say(absl::StrCat("cannot execute ", path, ": ", strerror(exec_errno)));
    c.stopped_by_us = true;  // its 127 is reported here, not as a rank failure
    start_failure_ = 127;
    return false;
  }
  return true;
}

bool Supervisor::AnyRunning() const {
  return std::any_of(children_.begin(), children_.end(),
                     [](const Child& c) { return c.running; });
}

bool Supervisor::AnyPipeOpen() const {
  return std::any_of(children_.begin(), children_.end(), [](const Child& c) {
    return c.out_fd >= 0 || c.err_fd >= 0;
  });
}

std::string Supervisor::RunningRanks() const {
  std::vector<int> ranks;
  for (const Child& c : children_) {
    if (c.running) ranks.push_back(c.rank);
  }
  return absl::StrCat(ranks.size() == 1 ? "rank " : "ranks ",
                      absl::StrJoin(ranks, ", "));
}

int Supervisor::PollTimeoutMs() const {
  std::optional<TimePoint> next;
  auto consider = [&next](const std::optional<TimePoint>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  if (!terminating_) {
    consider(timeout_at_);
    consider(grace_until_);
  } else if (!sigkill_sent_) {
    consider(kill_at_);
  }
  consider(drain_until_);
  if (!next) return -1;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next -
                                                                  Clock::now())
                .count();
  return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 60000));
}

void Supervisor::ReadSignals(int fd) {
  uint8_t sigs[64];
  ssize_t n;
  while ((n = read(fd, sigs, sizeof(sigs))) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      if (sigs[i] == SIGCHLD) continue;
      if (interrupted_by_ == 0) {
        interrupted_by_ = sigs[i];
      } else if (terminating_) {
        // Asked twice (a second Ctrl-C): do not wait out the SIGTERM period.
        kill_at_ = Clock::now();
      }
    }
  }
}

void Supervisor::ReadOutput(int& fd, LinePrefixer& prefixer) {
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      prefixer.Feed(buf, static_cast<size_t>(n));
      // One buffer per wake-up keeps a chatty rank from starving the rest.
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    prefixer.Finish();
    close(fd);
    fd = -1;
    return;
  }
}

void Supervisor::Reap() {
  while (true) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // none ready, or no children left
    for (Child& c : children_) {
      if (c.pid == pid && c.running) OnExit(c, status);
    }
  }
}

void Supervisor::OnExit(Child& c, int wait_status) {
  c.running = false;
  bool failed = !(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
  if (!failed) return;
  if (c.stopped_by_us) {
    if (!start_failure_)
      Say(DescribeExit(c.rank, wait_status) + " (stopped by meridian-run)");
    return;
  }
  Say(DescribeExit(c.rank, wait_status));
  if (first_failure_) return;
  first_failure_ = ShellStatus(wait_status);
  if (!terminating_ && AnyRunning()) {
    Say(absl::StrCat("waiting up to ", Seconds(options_.grace_s), " for ",
                     RunningRanks(), " to finish"));
    grace_until_ = After(options_.grace_s);
  }
}

void Supervisor::TerminateAll() {
  terminating_ = true;
  kill_at_ = After(options_.kill_wait_s);
  for (Child& c : children_) {
    if (!c.running) continue;
    c.stopped_by_us = true;
    if (killpg(c.pid, SIGTERM) != 0) kill(c.pid, SIGTERM);
  }
}

// Whatever a rank left running in its process group (background jobs)
// is stopped once the ranks themselves are gone.
void Supervisor::CleanUpGroups() {
  Reap();
  std::vector<pid_t> groups;
  for (const Child& c : children_) {
    if (killpg(c.pid, 0) == 0) groups.push_back(c.pid);
  }
  if (groups.empty()) return;
  for (pid_t g : groups) killpg(g, SIGTERM);
  TimePoint kill_at = After(options_.kill_wait_s);
  int sig = SIGTERM;
  while (true) {
    Reap();
    groups.erase(std::remove_if(groups.begin(), groups.end(),
                                [](pid_t g) { return killpg(g, 0) != 0; }),
                 groups.end());
    if (groups.empty()) return;
    if (sig == SIGTERM && Clock::now() >= kill_at) {
      sig = SIGKILL;
      for (pid_t g : groups) killpg(g, SIGKILL);
      kill_at = After(1.0);
    } else if (sig == SIGKILL && Clock::now() >= kill_at) {
      Say("some processes of the ranks' groups could not be killed");
      return;
    }
    usleep(10 * 1000);
  }
}

void Supervisor::Loop() {
  std::vector<struct pollfd> pfds;
  // Which descriptor (and whose prefixer) each pollfd entry stands for.
  std::vector<std::pair<int*, LinePrefixer*>> sources;
  while (AnyRunning() || AnyPipeOpen()) {
    if (!AnyRunning() && !drain_until_) {
      // Every rank has exited, yet a pipe is open: a leftover process of
      // some rank holds it.
      CleanUpGroups();
      drain_until_ = After(1.0);
    }
    if (drain_until_ && Clock::now() >= *drain_until_) break;

    pfds.clear();
    sources.clear();
    pfds.push_back({signal_pipe_[0], POLLIN, 0});
    sources.push_back({nullptr, nullptr});
    for (Child& c : children_) {
      if (c.out_fd >= 0) {
        pfds.push_back({c.out_fd, POLLIN, 0});
        sources.push_back({&c.out_fd, c.out.get()});
      }
      if (c.err_fd >= 0) {
        pfds.push_back({c.err_fd, POLLIN, 0});
        sources.push_back({&c.err_fd, c.err.get()});
      }
    }
    int rc = poll(pfds.data(), pfds.size(), PollTimeoutMs());
    if (rc < 0 && errno != EINTR) {
      Say(absl::StrCat("poll: ", strerror(errno)));
      usleep(10 * 1000);
    }
    if (rc > 0) {
      if (pfds[0].revents != 0) ReadSignals(signal_pipe_[0]);
      for (size_t i = 1; i < pfds.size(); ++i) {
        if (pfds[i].revents != 0)
          ReadOutput(*sources[i].first, *sources[i].second);
      }
    }
    Reap();

    TimePoint now = Clock::now();
    if (terminating_ || !AnyRunning()) {
      // Nothing to start stopping.
    } else if (interrupted_by_ != 0) {
      Say(absl::StrCat("received ", strsignal(interrupted_by_),
                       "; stopping all ranks"));
      TerminateAll();
    } else if (timeout_at_ && now >= *timeout_at_) {
      Say(absl::StrCat("timeout of ", Seconds(*options_.timeout_s),
                       " expired; killing ", RunningRanks()));
      timed_out_ = true;
      TerminateAll();
    } else if (grace_until_ && now >= *grace_until_) {
      Say(absl::StrCat("killing ", RunningRanks(), ", still running ",
                       Seconds(options_.grace_s), " after the first failure"));
      TerminateAll();
    }
    if (terminating_ && !sigkill_sent_ && AnyRunning() && now >= *kill_at_) {
      Say(absl::StrCat(RunningRanks(),
                       " still running after SIGTERM; sending SIGKILL"));
      for (const Child& c : children_) {
        if (c.running && killpg(c.pid, SIGKILL) != 0) kill(c.pid, SIGKILL);
      }
      sigkill_sent_ = true;
    }
  }
  for (Child& c : children_) {
    c.out->Finish();
    c.err->Finish();
  }
}

int Supervisor::ExitStatus() const {
  if (interrupted_by_ != 0) return 128 + interrupted_by_;
  if (timed_out_) return 124;
  if (start_failure_) return *start_failure_;
  if (first_failure_) return *first_failure_;
  return 0;
}

int Supervisor::Run() {
  std::optional<std::string> path = ResolveProgram(options_.argv[0]);
  if (!path) {
    Say(absl::StrCat(options_.argv[0],
                     ": command not found or not executable"));
    return 127;
  }
  if (!Setup()) return 1;
  if (options_.timeout_s) timeout_at_ = After(*options_.timeout_s);
  children_.reserve(options_.num_ranks);
  for (int rank = 0; rank < options_.num_ranks; ++rank) {
    if (!StartRank(rank, *path)) {
      TerminateAll();
      break;
    }
  }
  Loop();
  CleanUpGroups();
  return ExitStatus();
}

}  // namespace

int RunRanks(const LaunchOptions& options) {
  if (options.argv.empty() || options.num_ranks < 1) return 2;
  Supervisor supervisor(options);
  return supervisor.Run();
}

}  // namespace meridian::tools
