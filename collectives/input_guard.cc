#include "collectives/input_guard.h"

#include <algorithm>
#include <cstring>

namespace meridian::collectives {

void InputGuard::Arm(uint8_t* region, size_t bytes, size_t granule_bytes) {
  region_ = region;
  bytes_ = region == nullptr ? 0 : bytes;
  granule_ = std::max<size_t>(1, granule_bytes);
  saved_bytes_ = 0;
  if (backup_.size() < bytes_) backup_.resize(bytes_);
  saved_.assign((bytes_ + granule_ - 1) / granule_, 0);
}

void InputGuard::BeforeWrite(const uint8_t* p, size_t len) {
  if (bytes_ == 0 || len == 0) return;
  const uint8_t* end = p + len;
  const uint8_t* region_end = region_ + bytes_;
  if (end <= region_ || p >= region_end) return;
  const size_t from = static_cast<size_t>(std::max(p, static_cast<const uint8_t*>(region_)) - region_);
  const size_t to = static_cast<size_t>(std::min(end, static_cast<const uint8_t*>(region_end)) - region_);
  for (size_t g = from / granule_; g * granule_ < to; ++g) {
    if (saved_[g]) continue;
    const size_t off = g * granule_;
    const size_t n = std::min(granule_, bytes_ - off);
    memcpy(backup_.data() + off, region_ + off, n);
    saved_[g] = 1;
    saved_bytes_ += n;
  }
}

void InputGuard::Restore() {
  if (bytes_ == 0) return;
  for (size_t g = 0; g < saved_.size(); ++g) {
    if (!saved_[g]) continue;
    const size_t off = g * granule_;
    memcpy(region_ + off, backup_.data() + off, std::min(granule_, bytes_ - off));
  }
}

}  // namespace meridian::collectives
