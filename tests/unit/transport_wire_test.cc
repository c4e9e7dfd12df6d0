// Regressions found by the fuzz targets (tests/fuzz) in the payload reader;
// they matter most under the sanitizer build of CI, which flags the UB.
#include <vector>

#include "gtest/gtest.h"
#include "transport/wire.h"

namespace meridian::transport {
namespace {

// An empty std::vector's data() is null; reading zero bytes from it once
// handed that null pointer to memcpy (UBSan: nonnull-attribute).
TEST(WireRegressionTest, ZeroByteReadFromEmptyPayload) {
  std::vector<uint8_t> empty;
  ByteReader r(empty.data(), empty.size());
  uint8_t out[1] = {7};
  EXPECT_TRUE(r.Bytes(out, 0).ok());
  EXPECT_EQ(out[0], 7);
  EXPECT_FALSE(r.Bytes(out, 1).ok());
  EXPECT_EQ(r.remaining(), 0u);
}

}  // namespace
}  // namespace meridian::transport
