// meridian-coordinator: a standalone coordinator that serves successive
// runs until it is told to stop (SIGINT / SIGTERM).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "runtime/coordinator/coordinator.h"

namespace {

const char kUsage[] =
    "usage: meridian-coordinator --listen HOST:PORT\n"
    "\n"
    "Serves as the rendezvous point of Meridian peers until SIGINT or\n"
    "SIGTERM.  Peers find it through MERIDIAN_COORDINATOR=HOST:PORT.\n"
    "When every peer of a group has left, the next group can form.\n"
    "\n"
    "  --listen HOST:PORT  address to listen on (PORT 0: any free port;\n"
    "                      HOST 0.0.0.0: every interface)\n"
    "  -h, --help          this text\n"
    "\n"
    "Environment: MERIDIAN_LOG_LEVEL=info shows joins and group formation;\n"
    "MERIDIAN_COORDINATOR_HANDSHAKE_TIMEOUT_MS, "
    "MERIDIAN_COORDINATOR_MAX_PENDING.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "meridian-coordinator: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg.rfind("--listen=", 0) == 0) {
      listen = arg.substr(strlen("--listen="));
    } else {
      return UsageError("unknown argument '" + arg + "'");
    }
  }
  if (listen.empty()) return UsageError("--listen HOST:PORT is required");

  // Blocked before the serving thread starts, so that it inherits the mask
  // and the signals are taken only by sigwait below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto coordinator = meridian::coordinator::Coordinator::Start(listen);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "meridian-coordinator: %s\n",
                 std::string(coordinator.status().message()).c_str());
    return 1;
  }
  std::printf("meridian-coordinator listening on %s\n",
              (*coordinator)->address().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  std::fprintf(stderr, "meridian-coordinator: %s, shutting down\n",
               strsignal(sig));
  coordinator->reset();
  return 0;
}
