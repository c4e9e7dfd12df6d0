// Fluid-flow model of a network for the simulator: every message in
// transmission is a flow whose rate is limited by the shared resources it
// crosses; rates are recomputed when a flow starts or finishes, only for the
// flows that share a resource with it.
//
// Resources of a flow src -> dst:
//   path    src -> dst, capacity LinkModel::bandwidth(src, dst)
//   egress  of src, when LinkModel::egress(src) > 0
//   ingress of dst, when LinkModel::ingress(dst) > 0, with the incast term:
//           k concurrent flows share IncastIngressBps(ingress, k)
//   memory  of dst, when CostParams::mem_Bps > 0 (landing received bytes)
//   trunk   region(src) -> region(dst), when the regions differ and
//           LinkModel::trunk() > 0
//
// Sharing is equal share, not max-min: a flow's rate is the smallest, over
// its resources, of capacity / flows-on-it.  With CostParams::window_shares,
// flows-on-it counts every path declared to use the resource (Declare: the
// simulator declares each channel of the plans), busy or not: a TCP flow
// holds the window of its share of a bottleneck, so when the other flows
// of the plan pause it does not take their share; only the memory term
// (not TCP) ignores declarations.  It needs no global fixpoint
// (so a start or finish costs only the flows it touches, which keeps 10,000
// ranks fast), at the price of not being work-conserving: a flow held back
// elsewhere leaves part of its share idle, so with mixed bottlenecks the
// model errs slow.
//
// State is created lazily (per-rank resources in arrays of ranks, paths and
// trunks in hash maps), so memory follows what the plans use, never N x N.
#ifndef MERIDIAN_PLANNER_FLOW_NETWORK_H_
#define MERIDIAN_PLANNER_FLOW_NETWORK_H_

#include <array>
#include <cstdint>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "planner/cost_model.h"
#include "planner/topology.h"

namespace meridian::planner {

enum class ResourceKind : uint8_t {
  kPath = 0,
  kEgress = 1,
  kIngress = 2,
  kMemory = 3,
  kTrunk = 4,
  kCompute = 5,  // a rank's progress thread (reductions, copies)
};
constexpr int kNumResourceKinds = 6;
const char* ResourceKindName(ResourceKind kind);

// How much one resource was used.
struct ResourceUse {
  ResourceKind kind = ResourceKind::kPath;
  // path: ranks a -> b; trunk: regions a -> b; others: rank a (b = -1).
  int a = -1;
  int b = -1;
  double capacity_Bps = 0;  // nominal (before the incast term)
  double bytes = 0;
  // Seconds of full use: the integral of (rate carried / capacity) over
  // time.  The resource with the most is what the plan waits for.
  double busy_s = 0;

  std::string Describe() const;
};

class FlowNetwork {
 public:
  FlowNetwork(const LinkModel& net, const CostParams& cost);

  // The path src -> dst (created on first use).  InvalidArgument when the
  // model gives the pair no bandwidth.
  absl::StatusOr<int32_t> Path(int src, int dst);

  // Counts `path` as a sharer of each network resource it crosses, from
  // now on (see window_shares above).  Once per path.
  void Declare(int32_t path);

  // Starts moving `bytes` (> 0) over `path` at time `now`; returns the flow.
  int32_t Start(double now, int32_t path, double bytes);

  // The flow that finishes first, if any, and when.
  bool NextFinish(double* time, int32_t* flow);

  // Removes a finished flow at time `now` (its bytes are all through).
  void Finish(double now, int32_t flow);

  // Every resource that carried bytes, in creation order (deterministic).
  std::vector<ResourceUse> Usage() const;

  // Bytes carried per resource kind (a message counts once per resource
  // it crosses).
  const std::array<double, kNumResourceKinds>& bytes_by_kind() const {
    return bytes_by_kind_;
  }

 private:
  static constexpr int kMaxResources = 5;
  static constexpr int32_t kNone = -2;  // known to be unlimited
  static constexpr int32_t kUnknown = -1;

  struct Resource {
    ResourceKind kind;
    int a, b;
    double capacity;
    std::vector<int32_t> flows;  // active
    int declared = 0;            // paths that use it (Declare)
    double allocated = 0;        // sum of the active flows' rates
    double last = 0;             // busy_s is integrated up to here
    double busy_s = 0;
    double bytes = 0;
  };
  struct Flow {
    double remaining = 0;
    double bytes = 0;
    double rate = 0;
    double last = 0;  // remaining is exact at this time
    uint32_t version = 0;
    bool active = false;
    int num_resources = 0;
    int32_t resources[kMaxResources];
    int32_t position[kMaxResources];  // index in each resource's flows
  };
  struct FinishEvent {
    double time;
    uint64_t seq;
    int32_t flow;
    uint32_t version;
    bool operator>(const FinishEvent& o) const {
      return time != o.time ? time > o.time : seq > o.seq;
    }
  };

  int32_t NewResource(ResourceKind kind, int a, int b, double capacity);
  int32_t PerRank(std::vector<int32_t>& table, ResourceKind kind, int rank, double capacity);
  int32_t Trunk(int from_region, int to_region);
  // The resources a flow over `path` crosses (path, egress, ingress,
  // memory, trunk), kNone where unlimited.
  void ResourcesOf(int32_t path, int32_t out[kMaxResources]);
  double EffectiveCapacity(const Resource& r) const;
  double Share(const Resource& r) const;
  void Integrate(Resource& r, double now);
  // Brings `flow` to `now` and gives it its current fair rate.
  void Reschedule(int32_t flow, double now);
  void RescheduleSharers(int32_t resource, double now);

  const LinkModel& net_;
  CostParams cost_;
  std::vector<Resource> resources_;
  std::vector<int32_t> egress_, ingress_, memory_;  // per rank
  std::unordered_map<uint64_t, int32_t> paths_, trunks_;
  std::vector<Flow> flows_;
  std::vector<int32_t> free_flows_;
  std::priority_queue<FinishEvent, std::vector<FinishEvent>, std::greater<FinishEvent>> finishes_;
  uint64_t seq_ = 0;
  std::array<double, kNumResourceKinds> bytes_by_kind_{};
};

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_FLOW_NETWORK_H_
