// Connections and socket buffers chosen from a path's round-trip time.
#include "transport/tcp/path_sizing.h"

#include <cmath>

#include "gtest/gtest.h"

namespace meridian::transport {
namespace {

constexpr int kMiB = 1 << 20;

TEST(PathSizingTest, LocalPathsGetOneConnectionAndSmallBuffers) {
  SocketLimits limits{4 * kMiB, 4 * kMiB};
  EXPECT_EQ(AutoSocketBufferBytes(30, limits), kLocalBufferBytes);    // loopback
  EXPECT_EQ(AutoSocketBufferBytes(500, limits), kLocalBufferBytes);   // LAN
  PathPolicy policy;  // 10 Gbit/s
  EXPECT_EQ(AutoConnections(30, kLocalBufferBytes, policy), 1);
  // 10 Gbit/s x 0.5 ms = 625 KB: one 1 MiB window covers it.
  EXPECT_EQ(AutoConnections(500, kLocalBufferBytes, policy), 1);
}

TEST(PathSizingTest, LongPathsGetTheKernelMaximumAndEnoughWindows) {
  SocketLimits limits{4 * kMiB, 6 * kMiB};
  EXPECT_EQ(AutoSocketBufferBytes(70000, limits), 4 * kMiB);  // the smaller max
  PathPolicy policy;
  policy.target_bits_per_s = 1e9;
  // 1 Gbit/s x 70 ms = 8.75 MB = 2.09 windows of 4 MiB -> 3.
  EXPECT_EQ(AutoConnections(70000, 4 * kMiB, policy), 3);
  policy.target_bits_per_s = 10e9;
  // 87.5 MB -> 21 windows.
  EXPECT_EQ(AutoConnections(70000, 4 * kMiB, policy), 21);
  // Capped.
  EXPECT_EQ(AutoConnections(225000, 4 * kMiB, policy), policy.max_connections);
  policy.max_connections = 8;
  EXPECT_EQ(AutoConnections(225000, 4 * kMiB, policy), 8);
}

TEST(PathSizingTest, MeasuredRateSetsTheConnectionsInUse) {
  // europe: 125 MB/s x 25 ms = 3.1 MB, x 1.25 = 3.9 MB: one 4 MiB window.
  EXPECT_EQ(ConnectionsForRate(125e6, 0.025, 4 * kMiB, 8), 1);
  // transatlantic: 125 MB/s x 70 ms x 1.25 = 10.9 MB -> 3 windows.
  EXPECT_EQ(ConnectionsForRate(125e6, 0.070, 4 * kMiB, 21), 3);
  // Never more than the link has, never fewer than one.
  EXPECT_EQ(ConnectionsForRate(10e9, 0.2, 4 * kMiB, 8), 8);
  EXPECT_EQ(ConnectionsForRate(1e3, 0.0001, 4 * kMiB, 8), 1);
  // Nothing usable measured: keep them all.
  EXPECT_EQ(ConnectionsForRate(0, 0.07, 4 * kMiB, 6), 6);
  EXPECT_EQ(ConnectionsForRate(125e6, -1, 4 * kMiB, 6), 6);
  EXPECT_EQ(ConnectionsForRate(125e6, 0.07, 0, 6), 6);
  EXPECT_EQ(ConnectionsForRate(std::nan(""), 0.07, 4 * kMiB, 6), 6);
}

TEST(PathSizingTest, UnknownRttOrWindowMeansOneConnection) {
  PathPolicy policy;
  EXPECT_EQ(AutoConnections(-1, 4 * kMiB, policy), 1);
  EXPECT_EQ(AutoConnections(70000, 0, policy), 1);
  // An unknown RTT is treated as long: buffers as large as allowed.
  EXPECT_EQ(AutoSocketBufferBytes(-1, SocketLimits{8 * kMiB, 8 * kMiB}), 8 * kMiB);
  // Limits below the local size never shrink the buffers under it.
  EXPECT_EQ(AutoSocketBufferBytes(70000, SocketLimits{212992, 212992}), kLocalBufferBytes);
}

TEST(PathSizingTest, ReadsTheKernelLimits) {
  SocketLimits l = ReadSocketLimits();
  EXPECT_GT(l.wmem_max, 0);
  EXPECT_GT(l.rmem_max, 0);
}

}  // namespace
}  // namespace meridian::transport
