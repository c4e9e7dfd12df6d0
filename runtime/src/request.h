// One collective call in flight: its arguments, and its completion, which
// the progress thread publishes and callers wait for.
#ifndef MERIDIAN_RUNTIME_SRC_REQUEST_H_
#define MERIDIAN_RUNTIME_SRC_REQUEST_H_

#include <condition_variable>
#include <mutex>

#include "absl/status/status.h"
#include <memory>

#include "collectives/op_descriptor.h"
#include "planner/plan.h"

namespace meridian::runtime {

struct OpArgs {
  // kUpdate: a step boundary (mdnCommUpdate, or the re-forming that follows
  // a lost peer) run in queue order; spec and buffers are unused.
  enum class Kind { kCollective, kUpdate };
  Kind kind = Kind::kCollective;
  bool force_new_epoch = false;  // kUpdate only
  collectives::OpSpec spec;
  const void* input = nullptr;
  void* output = nullptr;
  bool in_place = false;
  // A plan made by the caller (shared-state transfers); null: the
  // communicator plans the collective itself.
  std::shared_ptr<const planner::Plan> plan;
};

class Request {
 public:
  explicit Request(const OpArgs& args) : args_(args) {}
  const OpArgs& args() const { return args_; }
  // A barrier runs as a one-byte all-reduce on these.
  uint8_t* barrier_bytes() { return barrier_; }

  void Complete(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }
  bool IsDone() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return status_;
  }
  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  OpArgs args_;
  uint8_t barrier_[2] = {0, 0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
};

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_REQUEST_H_
