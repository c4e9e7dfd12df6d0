#include "planner/plan.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace meridian::planner {

const char* CollectiveName(Collective c) {
  switch (c) {
    case Collective::kAllReduce: return "all_reduce";
    case Collective::kBroadcast: return "broadcast";
    case Collective::kReduce: return "reduce";
    case Collective::kAllGather: return "all_gather";
    case Collective::kReduceScatter: return "reduce_scatter";
    case Collective::kBarrier: return "barrier";
    case Collective::kTransfer: return "transfer";
  }
  return "unknown";
}

absl::Status ValidateOrder(const std::vector<int32_t>& order, int world_size) {
  if (order.empty()) return absl::OkStatus();
  if (order.size() != static_cast<size_t>(world_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ring order lists ", order.size(), " ranks for a world of ", world_size));
  }
  std::vector<bool> seen(world_size, false);
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const int32_t rank = order[pos];
    if (rank < 0 || rank >= world_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ring order position ", pos, " names rank ", rank, ", outside 0..", world_size - 1));
    }
    if (seen[rank]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ring order position ", pos, " repeats rank ", rank));
    }
    seen[rank] = true;
  }
  return absl::OkStatus();
}

void PeerLists::Add(int peer, int32_t step) {
  // Plans talk to few peers and mostly append to the one they used last.
  if (!entries_.empty() && entries_.back().first == peer) {
    entries_.back().second.push_back(step);
    return;
  }
  auto it = std::lower_bound(
      entries_.begin(), entries_.end(), peer,
      [](const auto& e, int p) { return e.first < p; });
  if (it == entries_.end() || it->first != peer) {
    it = entries_.insert(it, {peer, {}});
  }
  it->second.push_back(step);
}

const std::vector<int32_t>& PeerLists::operator[](int peer) const {
  static const std::vector<int32_t> kNone;
  auto it = std::lower_bound(
      entries_.begin(), entries_.end(), peer,
      [](const auto& e, int p) { return e.first < p; });
  return it != entries_.end() && it->first == peer ? it->second : kNone;
}

std::vector<int> PeerLists::Peers() const {
  std::vector<int> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.first);
  return out;
}

void Plan::Finalize() {
  const int n = static_cast<int>(steps.size());
  dep_count.assign(n, 0);
  std::vector<int32_t> fanout(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    for (int32_t d : steps[i].deps) {
      if (d < 0) continue;
      ++dep_count[i];
      ++fanout[d + 1];
    }
  }
  dependents_begin.assign(n + 1, 0);
  for (int i = 0; i < n; ++i) dependents_begin[i + 1] = dependents_begin[i] + fanout[i + 1];
  dependents.assign(dependents_begin[n], 0);
  std::vector<int32_t> fill(dependents_begin.begin(), dependents_begin.end() - 1);
  for (int i = 0; i < n; ++i) {
    for (int32_t d : steps[i].deps) {
      if (d >= 0) dependents[fill[d]++] = i;
    }
  }
  sends_to.Reset(world_size);
  recvs_from.Reset(world_size);
  max_recv_reduce_elems = 0;
  for (int i = 0; i < n; ++i) {
    const Step& s = steps[i];
    if (s.kind == StepKind::kSend) sends_to.Add(s.peer, i);
    if (s.kind == StepKind::kRecv || s.kind == StepKind::kRecvReduce) {
      recvs_from.Add(s.peer, i);
    }
    if (s.kind == StepKind::kRecvReduce && s.count > max_recv_reduce_elems) {
      max_recv_reduce_elems = s.count;
    }
  }
}

std::string Plan::DebugString() const {
  static const char* kKinds[] = {"send", "recv", "recv_reduce", "copy"};
  static const char* kBufs[] = {"in", "out", "scratch"};
  std::ostringstream os;
  os << CollectiveName(collective) << " rank " << rank << "/" << world_size
     << " steps " << steps.size() << "\n";
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    os << "  #" << i << " " << kKinds[static_cast<int>(s.kind)];
    if (s.peer >= 0) os << " peer " << s.peer;
    os << " " << kBufs[static_cast<int>(s.src.buf)] << "[" << s.src.offset << "]"
       << " -> " << kBufs[static_cast<int>(s.dst.buf)] << "[" << s.dst.offset
       << "] x" << s.count;
    if (s.finalize) os << " finalize";
    for (int32_t d : s.deps) {
      if (d >= 0) os << " after #" << d;
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace meridian::planner
