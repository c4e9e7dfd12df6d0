#include "transport/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace meridian::transport {

namespace {
// Enough to drain a busy mesh (K connections to each of many peers) in a few
// calls without a large stack frame.
constexpr int kMaxEvents = 128;
}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  Fd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return ErrnoStatus("epoll_create1", errno);
  Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) return ErrnoStatus("eventfd", errno);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = wake.get();
  if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return ErrnoStatus("epoll_ctl(wake)", errno);
  }
  return std::unique_ptr<EventLoop>(
      new EventLoop(std::move(epoll), std::move(wake)));
}

EventLoop::~EventLoop() = default;

absl::Status EventLoop::Add(int fd, uint32_t events, Handler handler) {
  if (handlers_.count(fd) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("fd ", fd, " is already registered with the event loop"));
  }
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return ErrnoStatus(absl::StrCat("epoll_ctl(ADD, fd ", fd, ")"), errno);
  }
  handlers_[fd] = std::make_shared<Handler>(std::move(handler));
  return absl::OkStatus();
}

absl::Status EventLoop::Modify(int fd, uint32_t events) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) {
    return ErrnoStatus(absl::StrCat("epoll_ctl(MOD, fd ", fd, ")"), errno);
  }
  return absl::OkStatus();
}

void EventLoop::Remove(int fd) {
  auto it = handlers_.find(fd);
  if (it == handlers_.end()) return;
  // The fd may already be closed by its owner; the kernel then dropped it
  // from the set itself, so a failure here is expected and harmless.
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(it);
}

int EventLoop::RunOnce(int timeout_ms) {
  struct epoll_event events[kMaxEvents];
  int n = epoll_wait(epoll_.get(), events, kMaxEvents, timeout_ms);
  if (n <= 0) return 0;  // timeout, or EINTR: the caller simply calls again
  int handled = 0;
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == wake_.get()) {
      uint64_t count;
      while (read(wake_.get(), &count, sizeof(count)) > 0) {
      }
      continue;
    }
    // Looked up per event, not cached for the batch: an earlier handler in
    // this batch may have removed this fd.
    auto it = handlers_.find(fd);
    if (it == handlers_.end()) continue;
    std::shared_ptr<Handler> handler = it->second;
    (*handler)(events[i].events);
    ++handled;
  }
  return handled;
}

void EventLoop::Wakeup() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: a wake-up is pending anyway.
  ssize_t rc = write(wake_.get(), &one, sizeof(one));
  (void)rc;
}

}  // namespace meridian::transport
