// InputGuard saves each granule before its first overwrite and restores
// exactly what was saved.
#include "collectives/input_guard.h"

#include <cstring>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace meridian::collectives {
namespace {

TEST(InputGuardTest, RestoresOverwrittenGranulesOnly) {
  std::vector<uint8_t> buf(1000);
  std::iota(buf.begin(), buf.end(), 0);
  const std::vector<uint8_t> original = buf;
  InputGuard g;
  g.Arm(buf.data(), buf.size(), 100);
  g.BeforeWrite(buf.data() + 150, 120);  // granules 1 and 2
  memset(buf.data() + 150, 0xee, 120);
  g.BeforeWrite(buf.data() + 160, 10);  // already saved: not copied again
  memset(buf.data() + 160, 0xdd, 10);
  EXPECT_EQ(g.saved_bytes(), 200u);
  g.Restore();
  EXPECT_EQ(buf, original);
}

TEST(InputGuardTest, IgnoresWritesOutsideTheRegionAndClipsPartialOnes) {
  std::vector<uint8_t> all(300, 7);
  uint8_t* region = all.data() + 100;  // [100, 200)
  InputGuard g;
  g.Arm(region, 100, 64);
  g.BeforeWrite(all.data(), 50);         // before
  g.BeforeWrite(all.data() + 250, 50);   // after
  EXPECT_EQ(g.saved_bytes(), 0u);
  g.BeforeWrite(all.data() + 90, 20);    // straddles the start: granule 0
  g.BeforeWrite(all.data() + 190, 30);   // straddles the end: last granule (36 bytes)
  EXPECT_EQ(g.saved_bytes(), 100u);
  memset(all.data(), 1, all.size());
  g.Restore();
  for (int i = 100; i < 200; ++i) ASSERT_EQ(all[i], 7) << i;
  EXPECT_EQ(all[99], 1);
  EXPECT_EQ(all[200], 1);
}

TEST(InputGuardTest, DisarmedOrReArmedForgetsEarlierSaves) {
  std::vector<uint8_t> buf(64, 1);
  InputGuard g;
  g.Arm(buf.data(), buf.size(), 16);
  g.BeforeWrite(buf.data(), 64);
  g.Disarm();
  buf.assign(64, 2);
  g.Restore();  // disarmed: nothing happens
  EXPECT_EQ(buf[0], 2);
  g.Arm(buf.data(), buf.size(), 16);
  EXPECT_EQ(g.saved_bytes(), 0u);
  g.Restore();
  EXPECT_EQ(buf[0], 2);
}

}  // namespace
}  // namespace meridian::collectives
