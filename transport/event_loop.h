// Event-driven progress: an epoll set plus an eventfd for cross-thread
// wake-ups.  One loop per communicator, driven by its progress thread; every
// handler runs on that thread.
#ifndef MERIDIAN_TRANSPORT_EVENT_LOOP_H_
#define MERIDIAN_TRANSPORT_EVENT_LOOP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "transport/socket.h"

namespace meridian::transport {

class EventLoop {
 public:
  // Called with the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, ...).
  using Handler = std::function<void(uint32_t events)>;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();

  // Registers fd (level-triggered) for `events`.  The loop does not own fd.
  absl::Status Add(int fd, uint32_t events, Handler handler);
  absl::Status Modify(int fd, uint32_t events);
  // Safe to call from inside a handler, also for the fd being dispatched.
  void Remove(int fd);

  // Waits up to timeout_ms (-1: forever) and dispatches ready handlers.
  // Returns the number of events handled (0 on timeout or wake-up).
  int RunOnce(int timeout_ms);

  // Thread-safe: makes a RunOnce in progress (or the next one) return.
  void Wakeup();

 private:
  EventLoop(Fd epoll, Fd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}
  Fd epoll_;
  Fd wake_;
  // shared_ptr so a handler removed mid-dispatch stays alive until it returns.
  std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
};

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_EVENT_LOOP_H_
