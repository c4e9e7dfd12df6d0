#include "runtime/src/comm_options.h"

#include <cstddef>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/env.h"
#include "base/status_macros.h"
#include "runtime/src/params.h"
#include "transport/auth.h"

namespace meridian::runtime {
namespace {

// True when the caller's struct is large enough to contain `field` (an
// older binary passes a shorter struct; missing fields take defaults).
#define MDN_CONFIG_HAS(cfg, field) \
  ((cfg) != nullptr &&             \
   (cfg)->struct_size >= offsetof(mdnCommConfig_t, field) + sizeof((cfg)->field))

absl::StatusOr<int64_t> EnvIntEither(const char* primary, const char* fallback,
                                     int64_t default_value) {
  if (GetEnv(primary)) return GetEnvInt(primary, default_value);
  if (fallback != nullptr && GetEnv(fallback)) return GetEnvInt(fallback, default_value);
  return default_value;
}

absl::StatusOr<std::string> CoordinatorAddress(const mdnCommConfig_t* cfg) {
  if (MDN_CONFIG_HAS(cfg, coordinator) && cfg->coordinator != nullptr) {
    return std::string(cfg->coordinator);
  }
  if (auto v = GetEnv("MERIDIAN_COORDINATOR")) return *v;
  auto addr = GetEnv("MASTER_ADDR");
  auto port = GetEnv("MASTER_PORT");
  if (addr && port) return absl::StrCat(*addr, ":", *port);
  return absl::InvalidArgumentError(
      "no coordinator address: set mdnCommConfig_t.coordinator, "
      "MERIDIAN_COORDINATOR=HOST:PORT, or MASTER_ADDR and MASTER_PORT");
}

}  // namespace

namespace {
absl::Status ResolvePlannerOptions(PlannerOptions* p) {
  using Algo = PlannerOptions::Algo;
  if (auto v = GetEnv("MERIDIAN_ALGO")) {
    if (*v == "auto") {
      p->algo = Algo::kAuto;
    } else if (*v == "ring") {
      p->algo = Algo::kRing;
    } else if (*v == "tree") {
      p->algo = Algo::kTree;
    } else if (*v == "hier") {
      p->algo = Algo::kHierarchical;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "MERIDIAN_ALGO='", *v, "' is not one of auto, ring, tree, hier"));
    }
  }
  if (auto v = GetEnv("MERIDIAN_RING_ORDER")) {
    if (*v != "auto" && *v != "rank") {
      return absl::InvalidArgumentError(absl::StrCat(
          "MERIDIAN_RING_ORDER='", *v, "' is not one of auto, rank"));
    }
    p->reorder_ring = *v == "auto";
  }
  if (auto v = GetEnv("MERIDIAN_DEBUG")) {
    for (absl::string_view part : absl::StrSplit(*v, ',')) {
      if (part == "plan") p->debug_plan = true;
    }
  }
  if (auto v = GetEnv("MERIDIAN_PROBE")) {
    if (*v == "auto") {
      p->probe = -1;
    } else if (*v == "0" || *v == "1") {
      p->probe = *v == "1" ? 1 : 0;
    } else if (*v == "always") {
      p->probe = PlannerOptions::kProbeAlways;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "MERIDIAN_PROBE='", *v, "' is not one of auto, 0, 1, always"));
    }
  }
  const int64_t bytes = param::ProbeBytes();
  if (bytes < 64 * 1024 || bytes > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MERIDIAN_PROBE_BYTES=", bytes, " is outside 65536..1073741824"));
  }
  p->probe_shape.bulk_bytes = static_cast<uint64_t>(bytes);
  if (auto v = GetEnv("MERIDIAN_TOPOLOGY_FILE")) p->topology_file = *v;
  if (auto v = GetEnv("MERIDIAN_REPLAN_DRIFT")) {
    double d = 0;
    if (!absl::SimpleAtod(*v, &d) || !(d == 0 || d >= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MERIDIAN_REPLAN_DRIFT='", *v, "' must be 0 (never) or a factor >= 1"));
    }
    p->replan_drift = d;
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<CommOptions> ResolveCommOptions(const mdnCommConfig_t* cfg) {
  if (cfg != nullptr &&
      (cfg->struct_size < offsetof(mdnCommConfig_t, version) + sizeof(uint32_t) ||
       cfg->version == 0)) {
    return absl::InvalidArgumentError(
        "mdnCommConfig_t is not initialised: call mdnCommConfigInit first");
  }
  CommOptions o;
  // First: without a token (or the explicit MERIDIAN_INSECURE=1) nothing
  // else about the configuration matters.
  MDN_ASSIGN_OR_RETURN(o.auth_token, transport::ResolveAuthToken());
  MDN_ASSIGN_OR_RETURN(std::string coord, CoordinatorAddress(cfg));
  auto parsed = transport::ParseHostPort(coord);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator address: ", parsed.status().message()));
  }
  o.coordinator = *parsed;
  if (o.coordinator.port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator address '", coord, "' needs a non-zero port"));
  }

  if (MDN_CONFIG_HAS(cfg, world_size) && cfg->world_size != 0) {
    o.world_size = cfg->world_size;
  } else {
    MDN_ASSIGN_OR_RETURN(int64_t ws, EnvIntEither("MERIDIAN_WORLD_SIZE", "WORLD_SIZE", 0));
    o.world_size = static_cast<int>(ws);
  }
  if (o.world_size < 1 || o.world_size > 65536) {
    return absl::InvalidArgumentError(absl::StrCat(
        "world size ", o.world_size,
        " is invalid: set mdnCommConfig_t.world_size or MERIDIAN_WORLD_SIZE (1..65536)"));
  }

  if (MDN_CONFIG_HAS(cfg, rank) && cfg->rank >= 0) {
    o.rank = cfg->rank;
  } else {
    MDN_ASSIGN_OR_RETURN(int64_t r, EnvIntEither("MERIDIAN_RANK", "RANK", -1));
    o.rank = static_cast<int>(r);
  }
  if (o.rank < -1 || o.rank >= o.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", o.rank, " is out of range for world size ", o.world_size));
  }

  auto pick = [](int from_config, int64_t from_param) {
    return from_config > 0 ? from_config : static_cast<int>(from_param);
  };
  o.connections_per_peer = pick(
      MDN_CONFIG_HAS(cfg, connections_per_peer) ? cfg->connections_per_peer : 0,
      param::ConnectionsPerPeer());
  // 0 stays: each peer pair's K is chosen from its measured RTT.
  if (o.connections_per_peer < 0) o.connections_per_peer = 0;
  if (o.connections_per_peer > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connections per peer ", o.connections_per_peer, " exceeds the maximum of 64"));
  }
  o.connect_timeout_ms = pick(
      MDN_CONFIG_HAS(cfg, connect_timeout_ms) ? cfg->connect_timeout_ms : 0,
      param::ConnectTimeoutMs());
  o.op_timeout_ms = pick(MDN_CONFIG_HAS(cfg, op_timeout_ms) ? cfg->op_timeout_ms : 0,
                         param::OpTimeoutMs());
  if (o.connect_timeout_ms <= 0 || o.op_timeout_ms <= 0) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }

  if (MDN_CONFIG_HAS(cfg, advertise_address) && cfg->advertise_address != nullptr) {
    o.advertise_host = cfg->advertise_address;
  } else if (auto v = GetEnv("MERIDIAN_ADVERTISE_ADDR")) {
    o.advertise_host = *v;
  }
  // Checked here, not at connect, so a typo fails before any network work.
  if (auto v = GetEnv("MERIDIAN_SOCKET_IFNAME")) {
    MDN_ASSIGN_OR_RETURN(o.socket_ifname, ParseIfnameFilter(*v));
  }
  if (auto v = GetEnv("MERIDIAN_PROGRESS_CPUS")) {
    MDN_ASSIGN_OR_RETURN(o.progress_cpus, ParseProgressCpus(*v));
  }
  o.chunk_bytes = static_cast<size_t>(std::max<int64_t>(64, param::ChunkBytes()));
  o.frame_bytes = static_cast<size_t>(std::max<int64_t>(4096, param::FrameBytes()));
  // -1 (any negative): sized from each path's RTT; 0: kernel autotuning.
  o.socket_buffer_bytes = static_cast<int>(
      std::clamp<int64_t>(param::SocketBufferBytes(), -1, 1 << 30));
  o.path.target_bits_per_s =
      static_cast<double>(std::max<int64_t>(1, param::PathTargetMbits())) * 1e6;
  o.path.max_connections =
      static_cast<int>(std::clamp<int64_t>(param::MaxConnectionsPerPeer(), 1, 64));
  o.inplace_backup = param::InplaceBackup() != 0;
  MDN_RETURN_IF_ERROR(ResolvePlannerOptions(&o.planner));
  if (auto cc = GetEnv("MERIDIAN_TCP_CONGESTION")) {
    o.congestion_control = *cc == "system" ? "" : *cc;
    o.congestion_control_required = true;
  }
  return o;
}

}  // namespace meridian::runtime
