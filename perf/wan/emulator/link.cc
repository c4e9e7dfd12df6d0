#include "perf/wan/emulator/link.h"

namespace meridian::wanem {
namespace {

uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = SplitMix64(&seed);
}

uint64_t Rng::Next() {
  uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

LinkModel::LinkModel(uint64_t rate_bps, int64_t delay_ns, double loss,
                     uint64_t queue_bytes)
    : rate_bps_(rate_bps),
      delay_ns_(delay_ns),
      loss_(loss),
      queue_bytes_(queue_bytes) {}

int64_t LinkModel::SerializationNs(uint32_t bytes) const {
  if (rate_bps_ == 0) return 0;
  unsigned __int128 bits_ns = static_cast<unsigned __int128>(bytes) * 8u *
                              1000000000u;
  return static_cast<int64_t>((bits_ns + rate_bps_ / 2) / rate_bps_);
}

uint64_t LinkModel::BacklogBytes(int64_t now_ns) const {
  if (rate_bps_ == 0 || free_ns_ <= now_ns) return 0;
  unsigned __int128 ns = static_cast<uint64_t>(free_ns_ - now_ns);
  return static_cast<uint64_t>(ns * rate_bps_ / 8000000000u);
}

LinkModel::Verdict LinkModel::Offer(int64_t arrive_ns, uint32_t bytes,
                                    double uniform, int64_t* deliver_ns) {
  if (loss_ > 0 && uniform < loss_) {
    ++counters_.lost;
    return Verdict::kLost;
  }
  if (BacklogBytes(arrive_ns) + bytes > queue_bytes_) {
    ++counters_.queue_dropped;
    return Verdict::kQueueFull;
  }
  int64_t start = free_ns_ > arrive_ns ? free_ns_ : arrive_ns;
  free_ns_ = start + SerializationNs(bytes);
  *deliver_ns = free_ns_ + delay_ns_;
  ++counters_.packets;
  counters_.bytes += bytes;
  return Verdict::kAccepted;
}

}  // namespace meridian::wanem
