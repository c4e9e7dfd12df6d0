// meridian-coordinator: a standalone coordinator that serves successive
// runs until it is told to stop (SIGINT / SIGTERM).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "runtime/coordinator/coordinator.h"
#include "transport/auth.h"

namespace {

const char kUsage[] =
    "usage: meridian-coordinator --listen HOST:PORT [--insecure]\n"
    "\n"
    "Serves as the rendezvous point of Meridian peers until SIGINT or\n"
    "SIGTERM.  Peers find it through MERIDIAN_COORDINATOR=HOST:PORT.\n"
    "When every peer of a group has left, the next group can form.\n"
    "\n"
    "  --listen HOST:PORT  address to listen on (PORT 0: any free port;\n"
    "                      HOST 0.0.0.0: every interface)\n"
    "  --insecure          serve without an auth token (trusted networks\n"
    "                      only; peers then need MERIDIAN_INSECURE=1)\n"
    "  -h, --help          this text\n"
    "\n"
    "Peers must prove knowledge of the shared secret in MERIDIAN_AUTH_TOKEN\n"
    "(or in the file named by MERIDIAN_AUTH_TOKEN_FILE); without one the\n"
    "coordinator refuses to start unless --insecure is given.\n"
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
  bool insecure = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--insecure") {
      insecure = true;
    } else if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg.rfind("--listen=", 0) == 0) {
      listen = arg.substr(strlen("--listen="));
    } else {
      return UsageError("unknown argument '" + arg + "'");
    }
  }
  if (listen.empty()) return UsageError("--listen HOST:PORT is required");

  auto configured = meridian::transport::ConfiguredAuthToken();
  if (!configured.ok()) {
    std::fprintf(stderr, "meridian-coordinator: %s\n",
                 std::string(configured.status().message()).c_str());
    return 1;
  }
  std::string token = configured->value_or("");
  if (token.empty() && !insecure) {
    std::fprintf(stderr,
                 "meridian-coordinator: refusing to start without an auth "
                 "token: set MERIDIAN_AUTH_TOKEN (e.g. MERIDIAN_AUTH_TOKEN=$("
                 "openssl rand -hex 32)) or MERIDIAN_AUTH_TOKEN_FILE, and the "
                 "same on every peer; or pass --insecure on a trusted "
                 "network\n");
    return 1;
  }
  if (!token.empty() && insecure) {
    std::fprintf(stderr,
                 "meridian-coordinator: --insecure ignored: an auth token is "
                 "configured and will be required\n");
  }

  // Blocked before the serving thread starts, so that it inherits the mask
  // and the signals are taken only by sigwait below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto coordinator = meridian::coordinator::Coordinator::Start(listen, token);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "meridian-coordinator: %s\n",
                 std::string(coordinator.status().message()).c_str());
    return 1;
  }
  std::printf("meridian-coordinator listening on %s%s\n",
              (*coordinator)->address().c_str(),
              token.empty() ? " (insecure: no auth token)" : "");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  std::fprintf(stderr, "meridian-coordinator: %s, shutting down\n",
               strsignal(sig));
  coordinator->reset();
  return 0;
}
