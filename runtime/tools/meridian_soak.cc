// meridian-soak: runs all-reduce steps with shared-state sync in a loop
// against the coordinator named by the environment, and survives membership
// changes: lost peers, hung peers, evictions of itself, and joiners.
//
// Each completed step prints one line on stdout,
//   step <n> epoch <e> world <w> digest <hex>
// where digest is XXH3-64 of that step's result buffer.  The result is
// computable from (step, world size) alone, so the tool checks every element
// itself and exits 3 on a wrong result.  The step counter is shared state
// (tensor "step", revision = completed steps), together with a small "model"
// tensor updated deterministically from each step's result; a joiner or a
// peer that fell behind receives both from the group and continues at the
// group's step.  Uses only the public C API.
#include <signal.h>
#include <time.h>
#include <xxhash.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "meridian.h"
#include "runtime/tools/cli_flag.h"

namespace {

const char kUsage[] =
    "usage: meridian-soak [--steps N] [--size BYTES] [--sleep-ms MS]\n"
    "                     [--model-bytes BYTES] [--print-state]\n"
    "                     [--stop-file PATH]\n"
    "\n"
    "Runs all-reduce (int32 sum, in place) steps with shared-state sync in a\n"
    "loop against the coordinator in MERIDIAN_COORDINATOR, and prints one\n"
    "line per completed step on stdout:\n"
    "  step <n> epoch <e> world <w> digest <hex>\n"
    "(digest: XXH3-64 of the step's result).  Each result is checked against\n"
    "the value computed from (step, world size).  MERIDIAN_WORLD_SIZE is the\n"
    "size the first epoch waits for; a peer that arrives after the group has\n"
    "formed joins as a pending peer and continues at the group's step.\n"
    "Faults (mdnPeerLost, mdnTimeout) are printed on stderr as\n"
    "  fault <result> <message>\n"
    "and the loop goes on; a peer that was evicted creates a new\n"
    "communicator and joins again.\n"
    "\n"
    "  --steps N          steps to complete (default 100); the step counter\n"
    "                     is shared, so every member stops at the same step\n"
    "  --size BYTES       all-reduce buffer size, a multiple of 4\n"
    "                     (default 65536)\n"
    "  --sleep-ms MS      pause between steps (default 0)\n"
    "  --model-bytes B    size of the shared \"model\" tensor, a multiple of 4\n"
    "                     (default 4096; 0: only the step counter)\n"
    "  --print-state      print \"state <n> epoch <e> world <w> digest <hex>\n"
    "                     received <bytes>\" on stderr after each sync (hash\n"
    "                     of the shared state the group holds before step n)\n"
    "  --stop-file PATH   when PATH holds a number T, stop after step T-1\n"
    "                     (read between steps; lets a driver end a run at a\n"
    "                     step that every member reaches)\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 when the steps are done, 1 on an error other than a lost\n"
    "peer or a timeout, 2 for usage errors, 3 on a wrong result.\n";

constexpr int kMaxConsecutiveFaults = 20;  // then create a new communicator
constexpr int kMaxCreateAttempts = 5;      // per (re)join, on timeouts

struct Options {
  uint64_t steps = 100;
  size_t size = 65536;
  long sleep_ms = 0;
  size_t model_bytes = 4096;
  bool print_state = false;
  std::string stop_file;
};

struct Stats {
  uint64_t completed = 0;
  uint64_t first_step = UINT64_MAX;
  uint64_t last_step = 0;
  uint64_t faults = 0;
  uint64_t rejoins = 0;
  uint64_t updates = 0;
  uint64_t sync_bytes_received = 0;
  uint64_t sync_bytes_sent = 0;
  int min_world = 0;
  int max_world = 0;
};

double NowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "meridian-soak: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

bool ParseU64(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] == '-') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return false;
  *out = v;
  return true;
}

using meridian::tools::TakeValue;

// This rank's contribution to element i of step `step`.  The sum over
// ranks 0..world-1 is Expected(step, world, i); values stay below 2^20 + a
// little, so the sum of up to 1024 ranks fits in an int32.
inline uint32_t Base(uint64_t step, size_t i) {
  return static_cast<uint32_t>((step * 7919u + i * 31u + 17u) & 0xFFFFFu);
}
inline int32_t Contribution(uint64_t step, int rank, size_t i) {
  return static_cast<int32_t>(Base(step, i) +
                              static_cast<uint32_t>(rank) * (1u + i % 3u));
}
inline int64_t Expected(uint64_t step, int world, size_t i) {
  int64_t w = world;
  return w * Base(step, i) + static_cast<int64_t>(1 + i % 3) * (w * (w - 1) / 2);
}

// The model after a step: a deterministic function of the old model and the
// step's result (unsigned arithmetic wraps; identical on every member).
void UpdateModel(std::vector<uint32_t>& model, const std::vector<int32_t>& result,
                 uint64_t step) {
  if (model.empty() || result.empty()) return;
  for (size_t j = 0; j < model.size(); ++j) {
    uint32_t r = static_cast<uint32_t>(result[(j * 2654435761u + step) % result.size()]);
    model[j] = model[j] * 1664525u + 1013904223u + r + static_cast<uint32_t>(j);
  }
}

// The stop file's step, or UINT64_MAX when there is none (yet).
uint64_t ReadStopStep(const std::string& path) {
  if (path.empty()) return UINT64_MAX;
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return UINT64_MAX;
  unsigned long long v = 0;
  int n = std::fscanf(f, "%llu", &v);
  std::fclose(f);
  return n == 1 ? static_cast<uint64_t>(v) : UINT64_MAX;
}

bool Contains(const char* haystack, const char* needle) {
  return haystack && std::strstr(haystack, needle) != nullptr;
}

// Whether the message of a failed call says that *this* peer was evicted
// (as opposed to naming another peer that was).
bool SaysSelfEvicted(const char* msg) {
  if (!msg) return false;
  return (Contains(msg, "this peer") && Contains(msg, "evicted")) ||
         Contains(msg, "create a new communicator");
}

class Soak {
 public:
  explicit Soak(const Options& o) : o_(o) {}

  int Run();

 private:
  // Creates the communicator (joining as pending when the group has
  // formed); retries on timeouts.  Returns 0 or an exit status.
  int Create(bool rejoin);
  // Records and prints a fault; returns true when it is one the loop goes on
  // after (mdnPeerLost, mdnTimeout).
  bool Fault(mdnResult_t rc, const char* where, const char* msg);
  // What to do after a failed call on comm_: go on (a fault; the next call
  // re-forms the group), join again with a new communicator (this peer was
  // evicted), or stop (returns an exit status > 0).
  int Failed(mdnResult_t rc, const char* where);
  int Fatal(mdnResult_t rc, const char* where, const char* msg);
  void Summary(const char* how) const;

  Options o_;
  Stats st_;
  mdnComm_t comm_ = nullptr;
  bool need_rejoin_ = false;
  int consecutive_faults_ = 0;
  double t0_ = NowSeconds();
};

int Soak::Create(bool rejoin) {
  if (rejoin) {
    // A rejoining peer takes whatever rank the group gives it, not the one
    // a launcher assigned at the start.
    unsetenv("MERIDIAN_RANK");
  }
  for (int attempt = 1;; ++attempt) {
    mdnResult_t rc = mdnCommCreate(nullptr, &comm_);
    if (rc == mdnSuccess) return 0;
    comm_ = nullptr;
    const char* msg = mdnGetLastError();
    bool transient = rc == mdnTimeout || rc == mdnPeerLost || (rejoin && rc == mdnUnavailable);
    if (!transient || attempt >= kMaxCreateAttempts) {
      return Fatal(rc, rejoin ? "mdnCommCreate (rejoin)" : "mdnCommCreate", msg);
    }
    Fault(rc, "mdnCommCreate", msg);
  }
}

bool Soak::Fault(mdnResult_t rc, const char* where, const char* msg) {
  if (rc != mdnPeerLost && rc != mdnTimeout) return false;
  ++st_.faults;
  std::fprintf(stderr, "fault %s %s: %s\n", mdnGetErrorString(rc), where,
               msg && *msg ? msg : "(no message)");
  std::fflush(stderr);
  return true;
}

int Soak::Failed(mdnResult_t rc, const char* where) {
  const char* msg = mdnCommGetLastError(comm_);
  if (SaysSelfEvicted(msg) && rc != mdnInvalidArgument) {
    // Evicted (hung past the heartbeat timeout, or the group moved on
    // without us): mdnPeerLost by the contract, but whatever the code, the
    // way back is a new communicator.
    ++st_.faults;
    std::fprintf(stderr, "fault %s %s: %s\n", mdnGetErrorString(rc), where, msg);
    std::fflush(stderr);
    need_rejoin_ = true;
    return 0;
  }
  if (!Fault(rc, where, msg)) return Fatal(rc, where, msg);
  ++consecutive_faults_;
  return 0;
}

int Soak::Fatal(mdnResult_t rc, const char* where, const char* msg) {
  std::fprintf(stderr, "meridian-soak: %s failed: %s: %s\n", where, mdnGetErrorString(rc),
               msg && *msg ? msg : "(no message)");
  Summary("failed");
  return 1;
}

void Soak::Summary(const char* how) const {
  double elapsed = NowSeconds() - t0_;
  std::fprintf(stderr,
               "meridian-soak: %s: %" PRIu64 " steps completed (steps %" PRIu64 "..%" PRIu64
               "), %" PRIu64 " faults, %" PRIu64 " rejoins, %" PRIu64
               " updates, world %d..%d, sync received %" PRIu64 " B sent %" PRIu64
               " B, %.1f s\n",
               how, st_.completed, st_.completed ? st_.first_step : 0, st_.last_step,
               st_.faults, st_.rejoins, st_.updates, st_.min_world, st_.max_world,
               st_.sync_bytes_received, st_.sync_bytes_sent, elapsed);
  std::fflush(stderr);
}

int Soak::Run() {
  const size_t count = o_.size / 4;
  std::vector<int32_t> buf(count);
  std::vector<uint32_t> model(o_.model_bytes / 4);
  std::vector<uint32_t> model_backup;
  for (size_t j = 0; j < model.size(); ++j) model[j] = static_cast<uint32_t>(j * 2246822519u);
  uint64_t step = 0;  // completed steps = the next step's number

  if (int rc = Create(false)) return rc;

  for (;;) {
    if (need_rejoin_) {
      mdnCommDestroy(comm_);
      comm_ = nullptr;
      need_rejoin_ = false;
      consecutive_faults_ = 0;
      ++st_.rejoins;
      std::fprintf(stderr, "meridian-soak: rejoining with a new communicator\n");
      std::fflush(stderr);
      if (int rc = Create(true)) return rc;
    }
    // A fault that repeats without end means we are not in the group any
    // more, whatever the messages say: join again.
    if (consecutive_faults_ >= kMaxConsecutiveFaults) {
      need_rejoin_ = true;
      continue;
    }

    // (a) Admit joiners at the step boundary.  After an update, whether it
    // worked or not, start over here: the joiners it admitted begin here
    // too (a new communicator's first call is this one), so every member's
    // sequence of calls stays the same.
    int pending = 0;
    mdnResult_t rc = mdnCommPendingJoiners(comm_, &pending);
    if (rc != mdnSuccess) {
      if (int exit_rc = Failed(rc, "mdnCommPendingJoiners")) return exit_rc;
      continue;
    }
    if (pending > 0) {
      rc = mdnCommUpdate(comm_);
      if (rc != mdnSuccess) {
        if (int exit_rc = Failed(rc, "mdnCommUpdate")) return exit_rc;
        continue;
      }
      ++st_.updates;
      continue;
    }

    // (b) Agree on the shared state: the step counter and the model.
    uint64_t step_value = step;
    mdnSharedTensor_t tensors[2];
    tensors[0].name = "step";
    tensors[0].data = &step_value;
    tensors[0].count = 1;
    tensors[0].datatype = mdnUint64;
    tensors[0].revision = step;
    tensors[1].name = "model";
    tensors[1].data = model.data();
    tensors[1].count = model.size();
    tensors[1].datatype = mdnUint32;
    tensors[1].revision = step;
    size_t num_tensors = model.empty() ? 1 : 2;
    model_backup = model;
    mdnSyncInfo_t info;
    std::memset(&info, 0, sizeof info);
    rc = mdnSharedStateSync(comm_, tensors, num_tensors, &info);
    st_.sync_bytes_received += info.bytes_received;
    st_.sync_bytes_sent += info.bytes_sent;
    if (rc != mdnSuccess) {
      if (int exit_rc = Failed(rc, "mdnSharedStateSync")) return exit_rc;
      // A sync cut short may have replaced the tensors in part: go back to
      // what we held (consistent at revision `step`) and sync again.
      model.swap(model_backup);
      continue;
    }
    if (step_value != tensors[0].revision ||
        (num_tensors == 2 && tensors[1].revision != tensors[0].revision)) {
      std::fprintf(stderr,
                   "meridian-soak: inconsistent shared state after sync: step %" PRIu64
                   " at revision %" PRIu64 ", model at revision %" PRIu64 "\n",
                   step_value, tensors[0].revision,
                   num_tensors == 2 ? tensors[1].revision : tensors[0].revision);
      Summary("failed");
      return 3;
    }
    step = step_value;

    int rank = 0, world = 0;
    uint64_t epoch = 0;
    if ((rc = mdnCommRank(comm_, &rank)) != mdnSuccess ||
        (rc = mdnCommSize(comm_, &world)) != mdnSuccess ||
        (rc = mdnCommEpoch(comm_, &epoch)) != mdnSuccess) {
      return Fatal(rc, "mdnCommRank/Size/Epoch", mdnCommGetLastError(comm_));
    }
    if (o_.print_state) {
      XXH3_state_t* hs = XXH3_createState();
      XXH3_64bits_reset(hs);
      XXH3_64bits_update(hs, &step_value, sizeof step_value);
      XXH3_64bits_update(hs, model.data(), model.size() * sizeof(uint32_t));
      unsigned long long h = XXH3_64bits_digest(hs);
      XXH3_freeState(hs);
      std::fprintf(stderr,
                   "state %" PRIu64 " epoch %" PRIu64 " world %d digest %016llx received %" PRIu64
                   "\n",
                   step, epoch, world, h, static_cast<uint64_t>(info.bytes_received));
      std::fflush(stderr);
    }

    uint64_t stop_at = o_.steps;
    uint64_t file_stop = ReadStopStep(o_.stop_file);
    if (file_stop < stop_at) stop_at = file_stop;
    if (step >= stop_at) break;

    // (c) The step: in-place int32 sum.
    for (size_t i = 0; i < count; ++i) buf[i] = Contribution(step, rank, i);
    rc = mdnAllReduce(comm_, buf.data(), buf.data(), count, mdnInt32, mdnSum);
    if (rc != mdnSuccess) {
      if (int exit_rc = Failed(rc, "mdnAllReduce")) return exit_rc;
      continue;
    }

    // (d) Check, print, advance.
    for (size_t i = 0; i < count; ++i) {
      int64_t want = Expected(step, world, i);
      if (buf[i] != want) {
        std::fprintf(stderr,
                     "meridian-soak: wrong result at step %" PRIu64 " (epoch %" PRIu64
                     ", world %d, rank %d): element %zu of %zu is %" PRId32
                     ", expected %" PRId64 "\n",
                     step, epoch, world, rank, i, count, buf[i], want);
        Summary("failed");
        return 3;
      }
    }
    unsigned long long digest = XXH3_64bits(buf.data(), count * sizeof(int32_t));
    std::printf("step %" PRIu64 " epoch %" PRIu64 " world %d digest %016llx\n", step, epoch,
                world, digest);
    std::fflush(stdout);
    consecutive_faults_ = 0;
    UpdateModel(model, buf, step);
    if (st_.completed == 0) st_.first_step = step;
    st_.last_step = step;
    ++st_.completed;
    if (st_.min_world == 0 || world < st_.min_world) st_.min_world = world;
    if (world > st_.max_world) st_.max_world = world;
    ++step;

    if (o_.sleep_ms > 0) {
      timespec ts{o_.sleep_ms / 1000, (o_.sleep_ms % 1000) * 1000000L};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
  }

  mdnCommDestroy(comm_);
  comm_ = nullptr;
  Summary("done");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    uint64_t v = 0;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--print-state") {
      o.print_state = true;
    } else if (TakeValue(argc, argv, i, "--steps", &value)) {
      if (!ParseU64(value, &v)) return UsageError("--steps needs a number, got '" + value + "'");
      o.steps = v;
    } else if (TakeValue(argc, argv, i, "--size", &value)) {
      if (!ParseU64(value, &v) || v == 0 || v % 4 != 0 || v > (uint64_t{1} << 34)) {
        return UsageError("--size needs a positive multiple of 4 bytes, got '" + value + "'");
      }
      o.size = v;
    } else if (TakeValue(argc, argv, i, "--sleep-ms", &value)) {
      if (!ParseU64(value, &v) || v > 3600000) {
        return UsageError("--sleep-ms needs a number of milliseconds, got '" + value + "'");
      }
      o.sleep_ms = static_cast<long>(v);
    } else if (TakeValue(argc, argv, i, "--model-bytes", &value)) {
      if (!ParseU64(value, &v) || v % 4 != 0 || v > (uint64_t{1} << 30)) {
        return UsageError("--model-bytes needs a multiple of 4 bytes, got '" + value + "'");
      }
      o.model_bytes = v;
    } else if (TakeValue(argc, argv, i, "--stop-file", &value)) {
      o.stop_file = value;
    } else {
      return UsageError("unknown argument '" + arg + "' (or a missing value)");
    }
  }
  signal(SIGPIPE, SIG_IGN);
  Soak soak(o);
  return soak.Run();
}
