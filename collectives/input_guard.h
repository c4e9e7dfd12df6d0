// Keeps what an in-place operation overwrites, so that a failed operation
// can put the caller's input back (a lost peer costs no data).  Copying the
// whole input up front would cost a full extra pass over memory on every
// call; instead each granule is saved just before the operation first
// writes it, which is also when the reduction is about to read it, so the
// copy mostly hits the cache.  Granules never written are never copied.
#ifndef MERIDIAN_COLLECTIVES_INPUT_GUARD_H_
#define MERIDIAN_COLLECTIVES_INPUT_GUARD_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace meridian::collectives {

class InputGuard {
 public:
  // Guards [region, region + bytes); forgets what an earlier operation saved.
  void Arm(uint8_t* region, size_t bytes, size_t granule_bytes = 64 << 10);
  void Disarm() { bytes_ = 0; }
  bool armed() const { return bytes_ > 0; }

  // Call before writing [p, p + len): saves the guarded granules it touches
  // that are not saved yet.  Writes outside the region are ignored.
  void BeforeWrite(const uint8_t* p, size_t len);

  // Copies every saved granule back into the region.
  void Restore();

  size_t saved_bytes() const { return saved_bytes_; }

 private:
  uint8_t* region_ = nullptr;
  size_t bytes_ = 0;
  size_t granule_ = 1;
  size_t saved_bytes_ = 0;
  std::vector<uint8_t> backup_;  // grows to the largest region guarded
  std::vector<uint8_t> saved_;   // per granule
};

}  // namespace meridian::collectives

#endif  // MERIDIAN_COLLECTIVES_INPUT_GUARD_H_
