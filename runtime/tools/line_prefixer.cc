#include "runtime/tools/line_prefixer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace meridian::tools {
namespace {
// A child that prints without newlines must not grow the buffer forever;
// past this, the text is emitted as a line of its own.
constexpr size_t kMaxLine = size_t{64} << 10;
}  // namespace

void WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n > 0) {
      data += n;
      len -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

void LinePrefixer::Emit(const char* line, size_t len) {
  // One write per line: the terminal (or file) receives it whole, even if
  // several writers share it.
  std::string out;
  out.reserve(prefix_.size() + len + 1);
  out.append(prefix_);
  out.append(line, len);
  out.push_back('\n');
  WriteAll(out_fd_, out.data(), out.size());
}

void LinePrefixer::Feed(const char* data, size_t len) {
  const char* end = data + len;
  while (data < end) {
    const char* nl = static_cast<const char*>(memchr(data, '\n', end - data));
    if (nl == nullptr) {
      partial_.append(data, end - data);
      if (partial_.size() >= kMaxLine) {
        Emit(partial_.data(), partial_.size());
        partial_.clear();
      }
      return;
    }
    if (partial_.empty()) {
      Emit(data, nl - data);
    } else {
      partial_.append(data, nl - data);
      Emit(partial_.data(), partial_.size());
      partial_.clear();
    }
    data = nl + 1;
  }
}

void LinePrefixer::Finish() {
  if (partial_.empty()) return;
  Emit(partial_.data(), partial_.size());
  partial_.clear();
}

}  // namespace meridian::tools
