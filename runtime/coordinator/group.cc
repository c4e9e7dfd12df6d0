#include "runtime/coordinator/group.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace meridian::coordinator {

Group::Group() {
  // Group ids tell runs apart (a stray peer of an old run must not mix with
  // a new one), so seed from the OS, not from the clock.
  std::random_device rd;
  rng_.seed((uint64_t{rd()} << 32) ^ rd());
}

absl::Status Group::Admit(PeerId id, const JoinMsg& join) {
  if (join.world_size < 1 || join.world_size > kMaxWorldSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("world size ", join.world_size, " is outside [1, ",
                     kMaxWorldSize, "]"));
  }
  if (join.requested_rank < -1 || join.requested_rank >= join.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", join.requested_rank, " is outside [0, ",
                     join.world_size, ") for world size ", join.world_size));
  }
  if (formed_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "group already formed with ", world_size_,
        " peers; a new group can form once all of them have left"));
  }
  if (world_size_ != 0 && join.world_size != world_size_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "world size ", join.world_size, " differs from the group's world size ",
        world_size_, " (set by the peers that joined first)"));
  }
  if (join.requested_rank >= 0) {
    for (const Peer& p : peers_) {
      if (p.requested_rank == join.requested_rank) {
        return absl::FailedPreconditionError(absl::StrCat(
            "rank ", join.requested_rank, " is already taken by another peer"));
      }
    }
  }
  world_size_ = join.world_size;
  peers_.push_back(Peer{id, join.requested_rank, join.data_address});
  MDN_LOG(Info) << "peer " << id << " joined (" << peers_.size() << "/"
                << world_size_ << ", requested rank " << join.requested_rank
                << ", data address " << join.data_address.ToString() << ")";
  return absl::OkStatus();
}

std::optional<std::vector<std::pair<PeerId, Roster>>> Group::TryForm() {
  if (formed_ || world_size_ == 0 ||
      peers_.size() != static_cast<size_t>(world_size_)) {
    return std::nullopt;
  }
  std::vector<int> rank_of(peers_.size(), -1);
  std::vector<bool> taken(world_size_, false);
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i].requested_rank >= 0) {
      rank_of[i] = peers_[i].requested_rank;
      taken[rank_of[i]] = true;
    }
  }
  int next_free = 0;
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (rank_of[i] >= 0) continue;
    while (taken[next_free]) ++next_free;
    rank_of[i] = next_free;
    taken[next_free] = true;
  }

  do {
    group_id_ = rng_();
  } while (group_id_ == 0);
  epoch_ = 1;
  formed_ = true;

  std::vector<transport::HostPort> addresses(world_size_);
  for (size_t i = 0; i < peers_.size(); ++i) {
    addresses[rank_of[i]] = peers_[i].data_address;
  }
  std::vector<std::pair<PeerId, Roster>> out;
  out.reserve(peers_.size());
  for (size_t i = 0; i < peers_.size(); ++i) {
    Roster r;
    r.group_id = group_id_;
    r.epoch = epoch_;
    r.rank = rank_of[i];
    r.world_size = world_size_;
    r.peers = addresses;
    out.emplace_back(peers_[i].id, std::move(r));
  }
  MDN_LOG(Info) << "group " << absl::StrCat(absl::Hex(group_id_))
                << " formed with " << world_size_ << " peers, epoch " << epoch_;
  return out;
}

void Group::Remove(PeerId id) {
  auto it = std::find_if(peers_.begin(), peers_.end(),
                         [id](const Peer& p) { return p.id == id; });
  if (it == peers_.end()) return;
  peers_.erase(it);
  if (formed_) {
    MDN_LOG(Info) << "member " << id << " of group "
                  << absl::StrCat(absl::Hex(group_id_)) << " left; "
                  << peers_.size() << " remain";
  } else {
    MDN_LOG(Info) << "joiner " << id << " left before the group formed";
  }
  if (peers_.empty()) Reset();
}

void Group::Reset() {
  if (formed_) {
    MDN_LOG(Info) << "group " << absl::StrCat(absl::Hex(group_id_))
                  << " dissolved; ready for a new group";
  }
  formed_ = false;
  world_size_ = 0;
  group_id_ = 0;
  epoch_ = 0;
  peers_.clear();
}

}  // namespace meridian::coordinator
