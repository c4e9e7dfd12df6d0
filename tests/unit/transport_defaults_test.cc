#include "gtest/gtest.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::transport {
namespace {

TEST(DefaultConnectionsTest, OneOnLoopbackSeveralElsewhere) {
  EXPECT_EQ(DefaultConnectionsPerPeer({{"127.0.0.1", 1}, {"127.0.0.2", 2}}), 1);
  EXPECT_EQ(DefaultConnectionsPerPeer({{"::1", 1}, {"localhost", 2}}), 1);
  EXPECT_GT(DefaultConnectionsPerPeer({{"127.0.0.1", 1}, {"10.0.0.2", 2}}), 1);
  EXPECT_GT(DefaultConnectionsPerPeer({{"example.org", 1}}), 1);
}

}  // namespace
}  // namespace meridian::transport
