#include "runtime/coordinator/group.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace meridian::coordinator {

void Actions::Append(Actions other) {
  for (auto& s : other.send) send.push_back(std::move(s));
  for (auto& r : other.refuse) refuse.push_back(std::move(r));
}

Group::Group(int recovery_grace_ms) : recovery_grace_ms_(recovery_grace_ms) {
  // Group ids tell runs apart (a stray peer of an old run must not mix with
  // a new one), so seed from the OS, not from the clock.
  std::random_device rd;
  rng_.seed((uint64_t{rd()} << 32) ^ rd());
}

uint64_t Group::NewGroupId() {
  uint64_t id;
  do {
    id = rng_();
  } while (id == 0);
  return id;
}

size_t Group::live_members() const {
  size_t n = 0;
  for (const Slot& s : members_) n += s.id != 0 ? 1 : 0;
  return n;
}

int Group::MemberRank(PeerId id) const {
  for (size_t r = 0; r < members_.size(); ++r) {
    if (members_[r].id == id) return static_cast<int>(r);
  }
  return -1;
}

absl::Status Group::Check(const JoinMsg& join) const {
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
  if (world_size_ != 0 && join.world_size != world_size_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "world size ", join.world_size, " differs from the group's world size ",
        world_size_, " (set by the peers that joined first)"));
  }
  if (join.requested_rank >= 0) {
    for (const Joiner& j : joiners_) {
      if (j.requested_rank == join.requested_rank) {
        return absl::FailedPreconditionError(absl::StrCat(
            "rank ", join.requested_rank, " is already taken by another peer"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Actions> Group::Admit(PeerId id, const JoinMsg& join) {
  if (formed_) {
    // Whatever world size the joiner was started with, it joins the group
    // that exists; it is admitted at the next step boundary.
    joiners_.push_back(Joiner{id, join.world_size, -1, join.data_address});
    MDN_LOG(Info) << "peer " << id << " (" << join.data_address.ToString()
                  << ") is pending; " << joiners_.size()
                  << " wait for the next epoch";
    return Notice(-1, "", false);
  }
  if (absl::Status st = Check(join); !st.ok()) return st;
  world_size_ = join.world_size;
  joiners_.push_back(
      Joiner{id, join.world_size, join.requested_rank, join.data_address});
  MDN_LOG(Info) << "peer " << id << " joined (" << joiners_.size() << "/"
                << world_size_ << ", requested rank " << join.requested_rank
                << ", data address " << join.data_address.ToString() << ")";
  return TryFormFirst();
}

Actions Group::TryFormFirst() {
  if (formed_ || world_size_ == 0 ||
      joiners_.size() != static_cast<size_t>(world_size_)) {
    return {};
  }
  std::vector<int> rank_of(joiners_.size(), -1);
  std::vector<bool> taken(world_size_, false);
  for (size_t i = 0; i < joiners_.size(); ++i) {
    if (joiners_[i].requested_rank >= 0) {
      rank_of[i] = joiners_[i].requested_rank;
      taken[rank_of[i]] = true;
    }
  }
  int next_free = 0;
  for (size_t i = 0; i < joiners_.size(); ++i) {
    if (rank_of[i] >= 0) continue;
    while (taken[next_free]) ++next_free;
    rank_of[i] = next_free;
    taken[next_free] = true;
  }
  std::vector<PeerId> ids(world_size_);
  std::vector<transport::HostPort> addresses(world_size_);
  for (size_t i = 0; i < joiners_.size(); ++i) {
    ids[rank_of[i]] = joiners_[i].id;
    addresses[rank_of[i]] = joiners_[i].data_address;
  }
  joiners_.clear();
  group_id_ = NewGroupId();
  epoch_ = 0;
  formed_ = true;
  links_.Clear();
  return FormEpoch(std::move(ids), std::move(addresses));
}

Actions Group::FormEpoch(std::vector<PeerId> ids,
                         std::vector<transport::HostPort> addresses) {
  ++epoch_;
  world_size_ = static_cast<int>(ids.size());
  members_.assign(ids.size(), Slot{});
  changed_ = false;
  for (size_t r = 0; r < ids.size(); ++r) {
    members_[r].id = ids[r];
    members_[r].data_address = addresses[r];
  }
  links_.Retain(addresses);
  MDN_LOG(Info) << "group " << absl::StrCat(absl::Hex(group_id_))
                << " formed epoch " << epoch_ << " with " << world_size_
                << " peers";
  return Rosters();
}

Actions Group::Rosters() const {
  std::vector<transport::HostPort> addresses;
  for (const Slot& s : members_) addresses.push_back(s.data_address);
  // One matrix for all: every rank must build the same topology from it.
  const LinkMatrix links = links_.For(addresses);
  Actions out;
  for (size_t r = 0; r < members_.size(); ++r) {
    if (members_[r].id == 0) continue;
    Roster roster;
    roster.group_id = group_id_;
    roster.epoch = epoch_;
    roster.rank = static_cast<int>(r);
    roster.world_size = world_size_;
    roster.peers = addresses;
    roster.links = links;
    out.send.emplace_back(members_[r].id, RosterMsg{std::move(roster)});
  }
  return out;
}

Actions Group::Notice(int lost_rank, const std::string& reason,
                      bool evicted) const {
  Actions out;
  NoticeMsg notice;
  notice.epoch = epoch_;
  notice.pending_joiners = static_cast<int32_t>(joiners_.size());
  notice.lost_rank = lost_rank;
  notice.evicted = evicted;
  notice.reason = reason;
  for (const Slot& s : members_) {
    if (s.id != 0) out.send.emplace_back(s.id, notice);
  }
  return out;
}

absl::StatusOr<Actions> Group::Reconnect(PeerId id, const ReconnectMsg& msg,
                                         transport::Deadline now) {
  if (!formed_ && joiners_.empty()) {
    // A fresh coordinator (restarted): the first member to report back
    // defines the group; the others have the grace period to follow.
    formed_ = true;
    group_id_ = msg.group_id;
    epoch_ = msg.epoch;
    world_size_ = msg.world_size;
    members_.assign(world_size_, Slot{});
    for (Slot& s : members_) s.awaiting = true;
    changed_ = false;
    recovery_until_ = now + std::chrono::milliseconds(recovery_grace_ms_);
    MDN_LOG(Info) << "recovering group " << absl::StrCat(absl::Hex(group_id_))
                  << " epoch " << epoch_ << " of " << world_size_
                  << " peers from their reports";
  }
  if (!formed_ || msg.group_id != group_id_ || msg.epoch != epoch_ ||
      msg.world_size != world_size_ || !members_[msg.rank].awaiting) {
    std::string why =
        formed_ && msg.group_id == group_id_
            ? absl::StrCat("rank ", msg.rank, " of epoch ", msg.epoch,
                           " is no longer a member (evicted, or the group "
                           "moved on to epoch ",
                           epoch_, " without it)")
            : absl::StrCat("group ", absl::StrCat(absl::Hex(msg.group_id)),
                           " epoch ", msg.epoch,
                           " is unknown to this coordinator");
    return absl::FailedPreconditionError(
        absl::StrCat(why, "; create a new communicator to rejoin"));
  }
  Slot& slot = members_[msg.rank];
  slot.id = id;
  slot.awaiting = false;
  slot.data_address = msg.data_address;
  MDN_LOG(Info) << "rank " << msg.rank << " of epoch " << epoch_
                << " reconnected (" << live_members() << "/" << world_size_
                << ")";
  Actions out;
  NoticeMsg ack;
  ack.epoch = epoch_;
  ack.pending_joiners = static_cast<int32_t>(joiners_.size());
  out.send.emplace_back(id, ack);
  bool still_awaiting = std::any_of(members_.begin(), members_.end(),
                                    [](const Slot& s) { return s.awaiting; });
  if (!still_awaiting) {
    recovery_until_.reset();
    out.Append(TryAdvance());
  }
  return out;
}

absl::StatusOr<Actions> Group::RequestUpdate(PeerId id, const UpdateMsg& msg) {
  int rank = MemberRank(id);
  if (rank < 0) {
    return absl::FailedPreconditionError(
        "UPDATE from a peer that is not a member of the group");
  }
  members_[rank].wants_update = true;
  members_[rank].force = members_[rank].force || msg.force;
  return TryAdvance();
}

Actions Group::TryAdvance() {
  if (!formed_ || recovery_until_) return {};
  bool any_live = false;
  bool force = false;
  for (const Slot& s : members_) {
    if (s.id == 0) continue;
    any_live = true;
    if (!s.wants_update) return {};
    force = force || s.force;
  }
  if (!any_live) return {};
  if (!changed_ && !force && joiners_.empty()) {
    // Nothing to change: everyone gets the same roster back.
    for (Slot& s : members_) s.wants_update = false;
    return Rosters();
  }
  std::vector<PeerId> ids;
  std::vector<transport::HostPort> addresses;
  for (const Slot& s : members_) {
    if (s.id == 0) continue;
    ids.push_back(s.id);
    addresses.push_back(s.data_address);
  }
  for (const Joiner& j : joiners_) {
    ids.push_back(j.id);
    addresses.push_back(j.data_address);
  }
  MDN_LOG(Info) << "epoch " << epoch_ << " -> " << epoch_ + 1 << ": "
                << live_members() << " of " << world_size_
                << " members continue, " << joiners_.size() << " admitted";
  joiners_.clear();
  return FormEpoch(std::move(ids), std::move(addresses));
}

absl::Status Group::ReportLinks(PeerId id, const LinkReportMsg& report) {
  const int rank = MemberRank(id);
  if (rank < 0) {
    return absl::FailedPreconditionError(
        "link report from a peer that is not a member of the group");
  }
  if (rank != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("link report from rank ", rank, "; only rank 0 reports"));
  }
  if (report.epoch != epoch_) {
    // Measured on a membership that is gone (a member was lost and the
    // group moved on before the report arrived).
    return absl::FailedPreconditionError(
        absl::StrCat("link report about epoch ", report.epoch,
                     " while the group is at epoch ", epoch_));
  }
  std::vector<transport::HostPort> addresses;
  std::vector<bool> live;
  for (const Slot& s : members_) {
    addresses.push_back(s.data_address);
    live.push_back(s.id != 0);
  }
  if (absl::Status st = links_.Accept(report, addresses, live); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "link report about epoch ", report.epoch, ": ", st.message()));
  }
  MDN_LOG(Debug) << "epoch " << epoch_ << ": rank 0 reported "
                 << report.links.pairs.size() << " measured pairs; "
                 << links_.size() << " known";
  return absl::OkStatus();
}

Actions Group::Remove(PeerId id, const std::string& reason, bool evicted) {
  if (!formed_) {
    auto it = std::find_if(joiners_.begin(), joiners_.end(),
                           [id](const Joiner& j) { return j.id == id; });
    if (it == joiners_.end()) return {};
    joiners_.erase(it);
    MDN_LOG(Info) << "joiner " << id << " left before the group formed";
    if (joiners_.empty()) world_size_ = 0;
    return {};
  }
  auto pending = std::find_if(joiners_.begin(), joiners_.end(),
                              [id](const Joiner& j) { return j.id == id; });
  if (pending != joiners_.end()) {
    joiners_.erase(pending);
    MDN_LOG(Info) << "pending peer " << id << " left: " << reason;
    return Notice(-1, "", false);
  }
  int rank = MemberRank(id);
  if (rank < 0) return {};
  members_[rank].id = 0;
  members_[rank].wants_update = false;
  changed_ = true;
  // Its address may return as a new peer's before the next epoch forms.
  links_.Forget(members_[rank].data_address);
  std::string why = absl::StrCat("rank ", rank, " of epoch ", epoch_,
                                 " was lost: ", reason);
  MDN_LOG(Warn) << "group " << absl::StrCat(absl::Hex(group_id_)) << ": " << why
                << "; " << live_members() << " remain";
  if (live_members() == 0 &&
      std::none_of(members_.begin(), members_.end(),
                   [](const Slot& s) { return s.awaiting; })) {
    return Dissolve();
  }
  Actions out = Notice(rank, why, evicted);
  // The lost member may have been the last one the others waited for.
  out.Append(TryAdvance());
  return out;
}

Actions Group::Tick(transport::Deadline now) {
  if (!recovery_until_ || now < *recovery_until_) return {};
  recovery_until_.reset();
  Actions out;
  for (size_t r = 0; r < members_.size(); ++r) {
    if (!members_[r].awaiting) continue;
    members_[r].awaiting = false;
    changed_ = true;
    std::string why = absl::StrCat(
        "rank ", r, " of epoch ", epoch_,
        " was lost: it did not reconnect after the coordinator restarted");
    MDN_LOG(Warn) << why;
    // Never heard of since the restart: it may be hung with its data
    // connections open, so the survivors must not wait for them.
    out.Append(Notice(static_cast<int>(r), why, /*evicted=*/true));
  }
  if (live_members() == 0) return Dissolve();
  out.Append(TryAdvance());
  return out;
}

Actions Group::Dissolve() {
  MDN_LOG(Info) << "group " << absl::StrCat(absl::Hex(group_id_))
                << " dissolved; ready for a new group";
  std::vector<Joiner> waiting = std::move(joiners_);
  formed_ = false;
  world_size_ = 0;
  group_id_ = 0;
  epoch_ = 0;
  members_.clear();
  joiners_.clear();
  changed_ = false;
  links_.Clear();
  recovery_until_.reset();
  // Peers that waited to join the old group now collect towards a new one,
  // with the world size they were started with.
  Actions out;
  for (const Joiner& j : waiting) {
    JoinMsg join;
    join.world_size = j.world_size;
    join.requested_rank = -1;
    join.data_address = j.data_address;
    absl::StatusOr<Actions> admitted = Admit(j.id, join);
    if (admitted.ok()) {
      out.Append(std::move(*admitted));
    } else {
      out.refuse.emplace_back(j.id, admitted.status());
    }
  }
  return out;
}

}  // namespace meridian::coordinator
