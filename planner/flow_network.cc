#include "planner/flow_network.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include "absl/strings/str_cat.h"

namespace meridian::planner {
namespace {

uint64_t PairKey(int a, int b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

}  // namespace

const char* ResourceKindName(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kPath: return "path";
    case ResourceKind::kEgress: return "egress";
    case ResourceKind::kIngress: return "ingress";
    case ResourceKind::kMemory: return "memory";
    case ResourceKind::kTrunk: return "trunk";
    case ResourceKind::kCompute: return "compute";
  }
  return "unknown";
}

std::string ResourceUse::Describe() const {
  std::string what;
  switch (kind) {
    case ResourceKind::kPath: what = absl::StrCat("path ", a, " -> ", b); break;
    case ResourceKind::kEgress: what = absl::StrCat("egress of rank ", a); break;
    case ResourceKind::kIngress: what = absl::StrCat("ingress of rank ", a); break;
    case ResourceKind::kMemory: what = absl::StrCat("memory (landing) of rank ", a); break;
    case ResourceKind::kTrunk: what = absl::StrCat("trunk region ", a, " -> region ", b); break;
    case ResourceKind::kCompute: what = absl::StrCat("progress thread of rank ", a); break;
  }
  return absl::StrCat(what, ": busy ", busy_s, " s, ", bytes, " bytes");
}

FlowNetwork::FlowNetwork(const LinkModel& net, const CostParams& cost)
    : net_(net),
      cost_(cost),
      egress_(net.size(), kUnknown),
      ingress_(net.size(), kUnknown),
      memory_(net.size(), kUnknown) {}

int32_t FlowNetwork::NewResource(ResourceKind kind, int a, int b, double capacity) {
  Resource r;
  r.kind = kind;
  r.a = a;
  r.b = b;
  r.capacity = capacity;
  resources_.push_back(std::move(r));
  return static_cast<int32_t>(resources_.size() - 1);
}

int32_t FlowNetwork::PerRank(std::vector<int32_t>& table, ResourceKind kind, int rank,
                             double capacity) {
  int32_t& slot = table[rank];
  if (slot == kUnknown) slot = capacity > 0 ? NewResource(kind, rank, -1, capacity) : kNone;
  return slot;
}

int32_t FlowNetwork::Trunk(int from_region, int to_region) {
  if (from_region == to_region) return kNone;
  auto [it, inserted] = trunks_.emplace(PairKey(from_region, to_region), kNone);
  if (inserted) {
    const double capacity = net_.trunk(from_region, to_region);
    if (capacity > 0) {
      it->second = NewResource(ResourceKind::kTrunk, from_region, to_region, capacity);
    }
  }
  return it->second;
}

absl::StatusOr<int32_t> FlowNetwork::Path(int src, int dst) {
  auto it = paths_.find(PairKey(src, dst));
  if (it != paths_.end()) return it->second;
  const double bandwidth = net_.bandwidth(src, dst);
  if (!(bandwidth > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the link model gives path ", src, " -> ", dst, " no bandwidth"));
  }
  const int32_t id = NewResource(ResourceKind::kPath, src, dst, bandwidth);
  paths_.emplace(PairKey(src, dst), id);
  return id;
}

double FlowNetwork::EffectiveCapacity(const Resource& r) const {
  if (r.kind != ResourceKind::kIngress) return r.capacity;
  return IncastIngressBps(cost_, r.capacity, static_cast<int>(r.flows.size()));
}

double FlowNetwork::Share(const Resource& r) const {
  size_t sharers = std::max<size_t>(1, r.flows.size());
  if (cost_.window_shares && r.kind != ResourceKind::kMemory) {
    sharers = std::max(sharers, static_cast<size_t>(r.declared));
  }
  return EffectiveCapacity(r) / static_cast<double>(sharers);
}

void FlowNetwork::ResourcesOf(int32_t path, int32_t out[kMaxResources]) {
  const int src = resources_[path].a, dst = resources_[path].b;
  out[0] = path;
  out[1] = PerRank(egress_, ResourceKind::kEgress, src, net_.egress(src));
  out[2] = PerRank(ingress_, ResourceKind::kIngress, dst, net_.ingress(dst));
  out[3] = PerRank(memory_, ResourceKind::kMemory, dst, cost_.mem_Bps);
  out[4] = Trunk(net_.region(src), net_.region(dst));
}

void FlowNetwork::Declare(int32_t path) {
  int32_t uses[kMaxResources];
  ResourcesOf(path, uses);
  for (int32_t r : uses) {
    if (r >= 0) ++resources_[r].declared;
  }
}

void FlowNetwork::Integrate(Resource& r, double now) {
  if (now > r.last && r.allocated > 0) {
    r.busy_s += (now - r.last) * r.allocated / EffectiveCapacity(r);
  }
  r.last = now;
}

void FlowNetwork::Reschedule(int32_t id, double now) {
  Flow& f = flows_[id];
  f.remaining = std::max(0.0, f.remaining - f.rate * (now - f.last));
  f.last = now;
  double rate = std::numeric_limits<double>::infinity();
  for (int k = 0; k < f.num_resources; ++k) {
    rate = std::min(rate, Share(resources_[f.resources[k]]));
  }
  if (rate == f.rate) return;
  for (int k = 0; k < f.num_resources; ++k) {
    Resource& r = resources_[f.resources[k]];
    Integrate(r, now);
    r.allocated += rate - f.rate;
  }
  f.rate = rate;
  ++f.version;
  finishes_.push({now + f.remaining / rate, seq_++, id, f.version});
}

void FlowNetwork::RescheduleSharers(int32_t resource, double now) {
  // Indexing, not iterators: Reschedule never changes membership.
  const auto& flows = resources_[resource].flows;
  for (size_t i = 0; i < flows.size(); ++i) Reschedule(flows[i], now);
}

int32_t FlowNetwork::Start(double now, int32_t path, double bytes) {
  assert(bytes > 0);
  int32_t id;
  if (!free_flows_.empty()) {
    id = free_flows_.back();
    free_flows_.pop_back();
  } else {
    id = static_cast<int32_t>(flows_.size());
    flows_.emplace_back();
  }
  int32_t candidates[kMaxResources];
  ResourcesOf(path, candidates);
  Flow& f = flows_[id];
  f.remaining = f.bytes = bytes;
  f.rate = 0;
  f.last = now;
  f.active = true;
  f.num_resources = 0;
  for (int32_t r : candidates) {
    if (r < 0) continue;
    Resource& res = resources_[r];
    Integrate(res, now);  // its capacity share is about to change
    f.resources[f.num_resources] = r;
    f.position[f.num_resources] = static_cast<int32_t>(res.flows.size());
    ++f.num_resources;
    res.flows.push_back(id);
  }
  for (int k = 0; k < flows_[id].num_resources; ++k) {
    RescheduleSharers(flows_[id].resources[k], now);
  }
  return id;
}

bool FlowNetwork::NextFinish(double* time, int32_t* flow) {
  while (!finishes_.empty()) {
    const FinishEvent& e = finishes_.top();
    const Flow& f = flows_[e.flow];
    if (f.active && f.version == e.version) {
      *time = e.time;
      *flow = e.flow;
      return true;
    }
    finishes_.pop();
  }
  return false;
}

void FlowNetwork::Finish(double now, int32_t id) {
  Flow& f = flows_[id];
  assert(f.active);
  f.active = false;
  for (int k = 0; k < f.num_resources; ++k) {
    Resource& r = resources_[f.resources[k]];
    Integrate(r, now);
    r.allocated = std::max(0.0, r.allocated - f.rate);
    r.bytes += f.bytes;
    bytes_by_kind_[static_cast<int>(r.kind)] += f.bytes;
    // Swap-remove, fixing the moved flow's back-reference.
    const int32_t pos = f.position[k];
    const int32_t moved = r.flows.back();
    r.flows[pos] = moved;
    r.flows.pop_back();
    if (moved != id) {
      Flow& m = flows_[moved];
      for (int j = 0; j < m.num_resources; ++j) {
        if (m.resources[j] == f.resources[k]) m.position[j] = pos;
      }
    }
  }
  for (int k = 0; k < f.num_resources; ++k) RescheduleSharers(f.resources[k], now);
  free_flows_.push_back(id);
}

std::vector<ResourceUse> FlowNetwork::Usage() const {
  std::vector<ResourceUse> out;
  for (const Resource& r : resources_) {
    if (r.bytes <= 0) continue;
    ResourceUse u;
    u.kind = r.kind;
    u.a = r.a;
    u.b = r.b;
    u.capacity_Bps = r.capacity;
    u.bytes = r.bytes;
    u.busy_s = r.busy_s;
    out.push_back(u);
  }
  return out;
}

}  // namespace meridian::planner
