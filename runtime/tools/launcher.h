// The process side of meridian-run: starts N ranks of a program, relays
// their output line by line with a "[rank] " prefix, watches them, and
// makes sure that none of them (nor what they started in their process
// group) outlives the launcher.
#ifndef MERIDIAN_RUNTIME_TOOLS_LAUNCHER_H_
#define MERIDIAN_RUNTIME_TOOLS_LAUNCHER_H_

#include <optional>
#include <string>
#include <vector>

namespace meridian::tools {

struct LaunchOptions {
  int num_ranks = 1;
  // Whole-run limit; when it passes every rank is killed and the run
  // exits 124.
  std::optional<double> timeout_s;
  // After the first rank fails, how long the others may keep running
  // before they are killed.
  double grace_s = 10.0;
  // After SIGTERM, how long a rank may take to exit before SIGKILL.
  double kill_wait_s = 2.0;
  std::string coordinator_address;
  std::vector<std::string> argv;  // program and its arguments
};

// Runs the ranks to completion and returns the launcher's exit status: 0
// when every rank exits 0; 124 when the timeout passed; 128+signal when the
// launcher itself was interrupted; otherwise the status of the first rank
// that failed (128+signal for a rank killed by a signal); 127 when the
// program cannot be executed.
int RunRanks(const LaunchOptions& options);

}  // namespace meridian::tools

#endif  // MERIDIAN_RUNTIME_TOOLS_LAUNCHER_H_
