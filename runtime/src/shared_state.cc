#include "runtime/src/shared_state.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/math/types.h"
#include "planner/transfer.h"
#include "transport/wire.h"

namespace meridian::runtime {

using planner::Collective;

namespace {

constexpr size_t kMaxNameBytes = 255;
// No tensor may exceed this (as ValidateOp's buffers): byte offsets stay
// representable on the wire.
constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 50;
// First all-gather: magic, version, number of tensors.
constexpr uint32_t kMagic = 0x5353444D;  // "MDSS"
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 16;
// Outcome slot of a member that has nothing to report, and of one whose
// transfer failed (other values: 1 + index of a tensor that failed the hash
// check there).
constexpr uint64_t kOk = 0;
constexpr uint64_t kTransferFailed = std::numeric_limits<uint64_t>::max();

uint64_t TensorBytes(const mdnSharedTensor_t& t) {
  return t.count * math::DataTypeSize(static_cast<math::DataType>(t.datatype));
}

uint64_t HashBytes(const void* data, uint64_t bytes) {
  return bytes == 0 ? XXH3_64bits(nullptr, 0) : XXH3_64bits(data, bytes);
}

collectives::OpSpec Spec(Collective c, math::DataType dtype, math::RedOp op, uint64_t count) {
  collectives::OpSpec spec;
  spec.collective = c;
  spec.dtype = dtype;
  spec.op = op;
  spec.root = 0;
  spec.count = count;
  return spec;
}

std::shared_ptr<Request> Submit(Communicator& comm, const collectives::OpSpec& spec,
                                const void* input, void* output,
                                std::shared_ptr<const planner::Plan> plan = nullptr) {
  OpArgs args;
  args.spec = spec;
  args.input = input;
  args.output = output;
  args.in_place = input == output;
  args.plan = std::move(plan);
  return comm.Submit(args);
}

// All-gather of `bytes` per member; returns world * bytes.
absl::StatusOr<std::vector<uint8_t>> AllGather(Communicator& comm,
                                               const std::vector<uint8_t>& mine) {
  std::vector<uint8_t> all(mine.size() * comm.size());
  MDN_RETURN_IF_ERROR(Submit(comm, Spec(Collective::kAllGather, math::DataType::kUint8,
                                        math::RedOp::kSum, mine.size()),
                             mine.data(), all.data())
                          ->Wait());
  return all;
}

std::string Quoted(const std::vector<std::string>& names, size_t i) {
  return absl::StrCat("'", names[i], "'");
}

}  // namespace

void SharedTensorRecord::Encode(uint8_t* out) const {
  transport::StoreLE64(out, name_hash);
  transport::StoreLE64(out + 8, count);
  transport::StoreLE64(out + 16, revision);
  transport::StoreLE64(out + 24, content_hash);
  transport::StoreLE64(out + 32, synced_revision);
  transport::StoreLE32(out + 40, dtype);
  transport::StoreLE32(out + 44, synced_known ? 1 : 0);
}

absl::StatusOr<SharedTensorRecord> SharedTensorRecord::Decode(const uint8_t* in, size_t n) {
  transport::ByteReader r(in, n);
  SharedTensorRecord rec;
  MDN_ASSIGN_OR_RETURN(rec.name_hash, r.U64());
  MDN_ASSIGN_OR_RETURN(rec.count, r.U64());
  MDN_ASSIGN_OR_RETURN(rec.revision, r.U64());
  MDN_ASSIGN_OR_RETURN(rec.content_hash, r.U64());
  MDN_ASSIGN_OR_RETURN(rec.synced_revision, r.U64());
  MDN_ASSIGN_OR_RETURN(rec.dtype, r.U32());
  MDN_ASSIGN_OR_RETURN(uint32_t flags, r.U32());
  if (flags > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed shared-state record: flags ", flags));
  }
  rec.synced_known = flags == 1;
  return rec;
}

absl::Status ValidateSharedTensors(const mdnSharedTensor_t* tensors, size_t num_tensors) {
  if (tensors == nullptr && num_tensors > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mdnSharedStateSync: tensors is NULL but num_tensors is ", num_tensors));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < num_tensors; ++i) {
    const mdnSharedTensor_t& t = tensors[i];
    const std::string where = absl::StrCat("mdnSharedStateSync: tensor #", i);
    if (t.name == nullptr) return absl::InvalidArgumentError(where + " has a NULL name");
    const size_t len = strnlen(t.name, kMaxNameBytes + 1);
    if (len > kMaxNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": name is longer than ", kMaxNameBytes, " bytes"));
    }
    const std::string name(t.name, len);
    const std::string which = absl::StrCat(where, " ('", name, "')");
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          which, ": duplicate name; names must be unique within one sync"));
    }
    // Read as an int: the caller may have stored any value, and loading an
    // out-of-range enum value is undefined behaviour.
    int dtype;
    static_assert(sizeof(dtype) == sizeof(t.datatype));
    memcpy(&dtype, &t.datatype, sizeof(dtype));
    if (dtype < 0 || dtype >= math::kNumDataTypes) {
      return absl::InvalidArgumentError(absl::StrCat(
          which, ": unknown data type ", dtype, " (valid: 0..", math::kNumDataTypes - 1, ")"));
    }
    const uint64_t esize = math::DataTypeSize(static_cast<math::DataType>(dtype));
    if (t.count > kMaxTensorBytes / esize) {
      return absl::InvalidArgumentError(absl::StrCat(
          which, ": count ", t.count, " is too large (size overflows)"));
    }
    if (t.data == nullptr && t.count > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          which, ": data is NULL but count is ", t.count));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SharedTensorPlan>> DecideSharedState(
    const std::vector<std::vector<SharedTensorRecord>>& records,
    const std::vector<std::string>& names) {
  const int world = static_cast<int>(records.size());
  const size_t num = names.size();
  for (int r = 0; r < world; ++r) {
    if (records[r].size() != num) {
      return absl::FailedPreconditionError(absl::StrCat(
          "shared state sync: rank ", r, " passed ", records[r].size(),
          " tensors but this rank passed ", num));
    }
  }
  // Same names, counts and types everywhere (compared with rank 0's).
  for (size_t i = 0; i < num; ++i) {
    const SharedTensorRecord& ref = records[0][i];
    for (int r = 1; r < world; ++r) {
      const SharedTensorRecord& rec = records[r][i];
      if (rec.name_hash != ref.name_hash) {
        return absl::FailedPreconditionError(absl::StrCat(
            "shared state sync: rank ", r, " passed a different name than rank 0 for tensor #",
            i, " (", Quoted(names, i), " here); every member must pass the same names in "
            "the same order"));
      }
      if (rec.count != ref.count || rec.dtype != ref.dtype) {
        auto type = [](uint32_t d) {
          return math::IsValid(static_cast<math::DataType>(d))
                     ? std::string(math::DataTypeName(static_cast<math::DataType>(d)))
                     : absl::StrCat("dtype#", d);
        };
        return absl::FailedPreconditionError(absl::StrCat(
            "shared tensor ", Quoted(names, i), ": rank ", r, " passed ", rec.count, " x ",
            type(rec.dtype), " but rank 0 passed ", ref.count, " x ", type(ref.dtype),
            "; every member must pass the same count and datatype"));
      }
    }
  }
  // No member more than one revision ahead of the last synced one.
  for (size_t i = 0; i < num; ++i) {
    bool known = false;
    uint64_t base = 0;
    for (int r = 0; r < world; ++r) {
      if (records[r][i].synced_known) {
        base = known ? std::max(base, records[r][i].synced_revision)
                     : records[r][i].synced_revision;
        known = true;
      }
    }
    if (!known) continue;
    for (int r = 0; r < world; ++r) {
      const uint64_t rev = records[r][i].revision;
      if (base < std::numeric_limits<uint64_t>::max() && rev > base + 1) {
        return absl::FailedPreconditionError(absl::StrCat(
            "shared tensor ", Quoted(names, i), ": rank ", r, " reports revision ", rev,
            ", more than one ahead of the group's revision ", base,
            "; a tensor's revision must grow by one per change between syncs "
            "(nothing was transferred)"));
      }
    }
  }
  std::vector<SharedTensorPlan> plans(num);
  for (size_t i = 0; i < num; ++i) {
    SharedTensorPlan& plan = plans[i];
    for (int r = 0; r < world; ++r) plan.revision = std::max(plan.revision, records[r][i].revision);
    // Most common content at the newest revision; ties: the lowest rank's
    // (contents are met in order of their lowest holder, and only a strictly
    // larger count displaces the current winner).
    std::vector<std::pair<uint64_t, int>> counts;  // (hash, holders)
    for (int r = 0; r < world; ++r) {
      if (records[r][i].revision != plan.revision) continue;
      const uint64_t h = records[r][i].content_hash;
      auto it = std::find_if(counts.begin(), counts.end(),
                             [h](const auto& c) { return c.first == h; });
      if (it == counts.end()) {
        counts.emplace_back(h, 1);
      } else {
        ++it->second;
      }
    }
    int best = 0;
    for (size_t k = 1; k < counts.size(); ++k) {
      if (counts[k].second > counts[best].second) best = static_cast<int>(k);
    }
    plan.content_hash = counts[best].first;
    std::vector<int> fetchers;
    for (int r = 0; r < world; ++r) {
      const SharedTensorRecord& rec = records[r][i];
      if (rec.content_hash != plan.content_hash) {
        fetchers.push_back(r);
      } else if (rec.revision == plan.revision) {
        plan.holders.push_back(r);
      }
      // Same bytes at an older revision: nothing to fetch, only the
      // revision moves up.
    }
    for (size_t f = 0; f < fetchers.size(); ++f) {
      plan.copies.emplace_back(plan.holders[f % plan.holders.size()], fetchers[f]);
    }
  }
  return plans;
}

absl::Status SyncSharedState(Communicator& comm, mdnSharedTensor_t* tensors,
                             size_t num_tensors, mdnSyncInfo_t* info) {
  mdnSyncInfo_t local_info{};
  if (info == nullptr) info = &local_info;
  *info = mdnSyncInfo_t{};
  MDN_RETURN_IF_ERROR(ValidateSharedTensors(tensors, num_tensors));
  const int rank = comm.rank(), world = comm.size();
  auto& synced = comm.synced_revisions();

  // 1. How many tensors each member passed: a fixed-size all-gather, so
  // that a different number is a clear error, not a size mismatch.
  std::vector<uint8_t> header(kHeaderBytes);
  transport::StoreLE32(header.data(), kMagic);
  transport::StoreLE32(header.data() + 4, kVersion);
  transport::StoreLE64(header.data() + 8, num_tensors);
  MDN_ASSIGN_OR_RETURN(std::vector<uint8_t> headers, AllGather(comm, header));
  for (int r = 0; r < world; ++r) {
    const uint8_t* h = headers.data() + r * kHeaderBytes;
    if (transport::LoadLE32(h) != kMagic || transport::LoadLE32(h + 4) != kVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "shared state sync: rank ", r, " sent an unknown header (another library version?)"));
    }
    const uint64_t theirs = transport::LoadLE64(h + 8);
    const uint64_t first = transport::LoadLE64(headers.data() + 8);
    if (theirs != first) {
      return absl::FailedPreconditionError(absl::StrCat(
          "shared state sync: rank ", r, " passed ", theirs, " tensors but rank 0 passed ",
          first, "; every member must pass the same names in the same order"));
    }
  }
  if (num_tensors == 0) return absl::OkStatus();

  // 2. Every member's records.
  std::vector<std::string> names(num_tensors);
  std::vector<uint8_t> mine(num_tensors * SharedTensorRecord::kBytes);
  for (size_t i = 0; i < num_tensors; ++i) {
    const mdnSharedTensor_t& t = tensors[i];
    names[i] = t.name;
    SharedTensorRecord rec;
    rec.name_hash = XXH3_64bits(names[i].data(), names[i].size());
    rec.count = t.count;
    rec.dtype = static_cast<uint32_t>(t.datatype);
    rec.revision = t.revision;
    rec.content_hash = HashBytes(t.data, TensorBytes(t));
    auto it = synced.find(names[i]);
    rec.synced_known = it != synced.end();
    rec.synced_revision = rec.synced_known ? it->second : 0;
    rec.Encode(mine.data() + i * SharedTensorRecord::kBytes);
  }
  MDN_ASSIGN_OR_RETURN(std::vector<uint8_t> all, AllGather(comm, mine));
  std::vector<std::vector<SharedTensorRecord>> records(world);
  for (int r = 0; r < world; ++r) {
    for (size_t i = 0; i < num_tensors; ++i) {
      const size_t off = (r * num_tensors + i) * SharedTensorRecord::kBytes;
      MDN_ASSIGN_OR_RETURN(SharedTensorRecord rec,
                           SharedTensorRecord::Decode(all.data() + off, SharedTensorRecord::kBytes));
      records[r].push_back(rec);
    }
  }

  // 3. The same decision everywhere.
  MDN_ASSIGN_OR_RETURN(std::vector<SharedTensorPlan> plans, DecideSharedState(records, names));

  // 4. Transfers, one operation per tensor that anyone fetches, all queued
  // at once (they run in issue order).
  const uint64_t chunk = std::max<uint64_t>(1, comm.options().chunk_bytes);
  std::vector<std::pair<size_t, std::shared_ptr<Request>>> transfers;
  std::vector<size_t> fetched;  // tensors this member receives
  for (size_t i = 0; i < num_tensors; ++i) {
    const SharedTensorPlan& plan = plans[i];
    if (plan.copies.empty()) continue;
    const uint64_t bytes = TensorBytes(tensors[i]);
    auto tplan = std::make_shared<const planner::Plan>(
        planner::BuildTransferPlan(rank, world, bytes, plan.copies, chunk));
    transfers.emplace_back(
        i, Submit(comm, Spec(Collective::kTransfer, math::DataType::kUint8, math::RedOp::kSum, bytes),
                  tensors[i].data, tensors[i].data, std::move(tplan)));
    for (const auto& [src, dst] : plan.copies) {
      if (src == rank) {
        info->bytes_sent += bytes;
        ++info->tensors_sent;
      }
      if (dst == rank) fetched.push_back(i);
    }
  }
  absl::Status transfer_status;
  for (auto& [i, req] : transfers) {
    absl::Status s = req->Wait();
    if (!s.ok() && transfer_status.ok()) transfer_status = s;
  }

  // 5. Fetchers verify; then every member learns every outcome, so all
  // return the same result.
  uint64_t outcome = transfer_status.ok() ? kOk : kTransferFailed;
  for (size_t i : fetched) {
    if (outcome != kOk) break;
    const uint64_t bytes = TensorBytes(tensors[i]);
    info->bytes_received += bytes;
    ++info->tensors_received;
    if (HashBytes(tensors[i].data, bytes) != plans[i].content_hash) outcome = i + 1;
  }
  std::vector<uint64_t> outcomes(world, 0), reduced(world, 0);
  outcomes[rank] = outcome;
  absl::Status flag_status =
      Submit(comm, Spec(Collective::kAllReduce, math::DataType::kUint64, math::RedOp::kMax, world),
             outcomes.data(), reduced.data())
          ->Wait();
  if (!transfer_status.ok()) return transfer_status;
  if (!flag_status.ok()) return flag_status;
  for (int r = 0; r < world; ++r) {
    if (reduced[r] == kOk || reduced[r] == kTransferFailed) continue;
    const size_t i = reduced[r] - 1;
    if (i >= num_tensors) {
      return absl::InternalError(absl::StrCat("shared state sync: rank ", r,
                                              " reported an unknown outcome ", reduced[r]));
    }
    int holder = -1;
    for (const auto& [src, dst] : plans[i].copies) {
      if (dst == r) holder = src;
    }
    return absl::DataLossError(absl::StrCat(
        "shared tensor ", Quoted(names, i), ": the bytes rank ", r, " received from rank ",
        holder, " fail the hash check (corrupted in transit or changed during the sync)"));
  }
  for (int r = 0; r < world; ++r) {
    if (reduced[r] == kTransferFailed) {
      return absl::AbortedError(absl::StrCat(
          "shared state sync: the transfers of rank ", r,
          " failed; the group's state may differ, sync again"));
    }
  }

  // 6. Everyone holds the group's bytes and revision.
  for (size_t i = 0; i < num_tensors; ++i) {
    tensors[i].revision = plans[i].revision;
    synced[names[i]] = plans[i].revision;
  }
  return absl::OkStatus();
}

}  // namespace meridian::runtime
