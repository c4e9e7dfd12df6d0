// Shared-state sync (mdnSharedStateSync): named tensors that every member
// must hold bit for bit.  Members exchange a fixed-size record per tensor
// (name hash, count, type, revision, content hash, last synced revision),
// every member derives the same decision from the same records, outdated
// members fetch the winning bytes from a holder through a caller-made
// kTransfer plan, and verify them by hash.
#ifndef MERIDIAN_RUNTIME_SRC_SHARED_STATE_H_
#define MERIDIAN_RUNTIME_SRC_SHARED_STATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "meridian.h"
#include "runtime/src/communicator.h"

namespace meridian::runtime {

// What one member reports about one tensor.
struct SharedTensorRecord {
  static constexpr size_t kBytes = 48;  // encoded size
  uint64_t name_hash = 0;     // XXH3_64bits of the name
  uint64_t count = 0;
  uint32_t dtype = 0;
  uint64_t revision = 0;
  uint64_t content_hash = 0;  // XXH3_64bits of the bytes
  bool synced_known = false;  // has this member synced this name before?
  uint64_t synced_revision = 0;

  void Encode(uint8_t* out) const;  // kBytes, little-endian
  static absl::StatusOr<SharedTensorRecord> Decode(const uint8_t* in, size_t n);
};

// The group's decision for one tensor.
struct SharedTensorPlan {
  uint64_t revision = 0;      // the group's revision afterwards
  uint64_t content_hash = 0;  // the winning content
  std::vector<int> holders;   // ranks at `revision` with the winning content
  // (holder, fetcher) in fetcher rank order: fetcher i takes holders[i % h].
  std::vector<std::pair<int, int>> copies;
};

// Argument checks (NULL tensors / names / data, names over 255 bytes,
// duplicate names, bad types, size overflow): InvalidArgument.
absl::Status ValidateSharedTensors(const mdnSharedTensor_t* tensors, size_t num_tensors);

// The deterministic decision every member computes from records[rank][i];
// `names` (this member's names) only make the messages readable.
// FailedPrecondition when members passed different names, counts or types,
// or when a member's revision is more than one ahead of the group's last
// synced revision (the lowest such rank and tensor are named).
absl::StatusOr<std::vector<SharedTensorPlan>> DecideSharedState(
    const std::vector<std::vector<SharedTensorRecord>>& records,
    const std::vector<std::string>& names);

// The whole collective; *info (may be null) receives the tensor bytes and
// transfers of this member (zeroed when the sync fails).
absl::Status SyncSharedState(Communicator& comm, mdnSharedTensor_t* tensors,
                             size_t num_tensors, mdnSyncInfo_t* info);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_SHARED_STATE_H_
