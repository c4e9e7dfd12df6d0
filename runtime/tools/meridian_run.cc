// meridian-run: starts N ranks of a program on this machine around an
// in-process coordinator (like mpirun / torchrun for one host).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/tools/cli_flag.h"
#include "runtime/tools/launcher.h"
#include "transport/auth.h"

namespace {

constexpr int kMaxRanks = 1024;

const char kUsage[] =
    "usage: meridian-run -n N [--timeout S] [--grace S] [--] PROGRAM "
    "[ARGS...]\n"
    "\n"
    "Starts N ranks of PROGRAM on this machine.  Each rank gets\n"
    "MERIDIAN_COORDINATOR (an in-process coordinator on 127.0.0.1),\n"
    "MERIDIAN_AUTH_TOKEN (yours if set, else a fresh random one),\n"
    "MERIDIAN_WORLD_SIZE=N, MERIDIAN_RANK and MERIDIAN_LOCAL_RANK, and its\n"
    "output lines are prefixed with \"[RANK] \".  Their standard input is\n"
    "/dev/null.  Each rank runs in its own process group; when the run ends,\n"
    "whatever is left in those groups is stopped (SIGTERM, then SIGKILL).\n"
    "SIGINT or SIGTERM stops every rank (a second one: SIGKILL at once).\n"
    "\n"
    "  -n, --np N     number of ranks (1..1024)\n"
    "  --timeout S    kill every rank after S seconds and exit 124\n"
    "  --grace S      after a rank fails, let the others run S more seconds\n"
    "                 before killing them (default 10)\n"
    "  -h, --help     this text\n"
    "\n"
    "Exit status: 0 when every rank exits 0; otherwise the status of the "
    "first\n"
    "rank that failed (128+N for signal N), 124 on timeout, 127 when PROGRAM\n"
    "cannot be run, 2 for usage errors.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "meridian-run: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

using meridian::tools::TakeValue;

// Each rank needs two pipes; the default soft limit of 1024 descriptors
// would cap a run at a few hundred ranks.
void RaiseFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  meridian::tools::LaunchOptions options;
  bool have_n = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (TakeValue(argc, argv, i, "-n", &value) ||
        TakeValue(argc, argv, i, "--np", &value)) {
      if (!absl::SimpleAtoi(value, &options.num_ranks) ||
          options.num_ranks < 1 || options.num_ranks > kMaxRanks) {
        return UsageError("-n needs a number of ranks in 1.." +
                          std::to_string(kMaxRanks) + ", got '" + value + "'");
      }
      have_n = true;
    } else if (TakeValue(argc, argv, i, "--timeout", &value)) {
      double s = 0;
      if (!absl::SimpleAtod(value, &s) || !(s > 0)) {
        return UsageError(
            "--timeout needs a positive number of seconds, got '" + value +
            "'");
      }
      options.timeout_s = s;
    } else if (TakeValue(argc, argv, i, "--grace", &value)) {
      if (!absl::SimpleAtod(value, &options.grace_s) ||
          !(options.grace_s >= 0)) {
        return UsageError("--grace needs a number of seconds >= 0, got '" +
                          value + "'");
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return UsageError("unknown option '" + arg + "' (or a missing value)");
    } else {
      break;  // the program starts here
    }
  }
  if (!have_n) return UsageError("-n N is required");
  if (i >= argc) return UsageError("no program given");
  options.argv.assign(argv + i, argv + argc);

  RaiseFileLimit();
  // The user's token when there is one (MERIDIAN_AUTH_TOKEN, or the file the
  // ranks will read too); otherwise a fresh random one, set in our own
  // environment so that every rank inherits it and nobody outside this run
  // knows it.
  auto configured = meridian::transport::ConfiguredAuthToken();
  if (!configured.ok()) {
    std::fprintf(stderr, "meridian-run: %s\n",
                 std::string(configured.status().message()).c_str());
    return 2;
  }
  std::string token;
  if (configured->has_value()) {
    token = **configured;
  } else {
    token = meridian::transport::RandomTokenHex(32);
    setenv("MERIDIAN_AUTH_TOKEN", token.c_str(), 1);
  }
  auto coordinator =
      meridian::coordinator::Coordinator::Start("127.0.0.1:0", token);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "meridian-run: cannot start the coordinator: %s\n",
                 std::string(coordinator.status().message()).c_str());
    return 1;
  }
  options.coordinator_address = (*coordinator)->address();
  return meridian::tools::RunRanks(options);
}
