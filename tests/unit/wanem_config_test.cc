// meridian-wanem's configuration parser (perf/wan/emulator/config.h): good
// files, defaults, and one bad line at a time with the line named.
#include <string>

#include "gtest/gtest.h"
#include "perf/wan/emulator/config.h"

namespace meridian::wanem {
namespace {

const char kGood[] = R"(# three peers
mtu 9000
peer 0 nsa 10.231.0.1
peer 1 nsa-b 10.231.0.2   # trailing comment
peer 2 /proc/1/ns/net 10.231.0.3

link ab   100000000 10000 0 262144
link ba   100M      10000 0.0 256K
link trunk 1G       35000.5 0.01
link acc  0         250 0   1M
path 0 1 ab
path 1 0 ba
path 0 2 trunk acc
path 2 0 acc trunk
path 1 2 trunk
path 2 1 trunk
)";

bool Parse(const std::string& text, Config* c, std::string* error) {
  return ParseConfig(text, c, error);
}

TEST(WanemConfigTest, ParsesAGoodFile) {
  Config c;
  std::string error;
  ASSERT_TRUE(Parse(kGood, &c, &error)) << error;
  EXPECT_EQ(c.mtu, 9000);
  ASSERT_EQ(c.peers.size(), 3u);
  EXPECT_EQ(c.peers[1].netns, "nsa-b");
  EXPECT_EQ(c.peers[1].addr, 0x0ae70002u);
  EXPECT_EQ(c.peers[2].netns, "/proc/1/ns/net");
  ASSERT_EQ(c.links.size(), 4u);
  EXPECT_EQ(c.links[0].rate_bps, 100000000u);
  EXPECT_EQ(c.links[0].delay_ns, 10000000);
  EXPECT_EQ(c.links[0].queue_bytes, 262144u);
  EXPECT_EQ(c.links[1].rate_bps, 100000000u);
  EXPECT_EQ(c.links[1].queue_bytes, 262144u);
  EXPECT_EQ(c.links[2].rate_bps, 1000000000u);
  EXPECT_EQ(c.links[2].delay_ns, 35000500);
  EXPECT_DOUBLE_EQ(c.links[2].loss, 0.01);
  // Default queue: one BDP, 1 Gbit/s x 70.001 ms / 8.
  EXPECT_EQ(c.links[2].queue_bytes, 8750125u);
  EXPECT_EQ(c.links[3].rate_bps, 0u);
  EXPECT_EQ(c.links[3].queue_bytes, 1u << 20);
  ASSERT_EQ(c.paths.size(), 3u);
  EXPECT_EQ(c.paths[0][1], std::vector<int>({0}));
  EXPECT_EQ(c.paths[0][2], std::vector<int>({2, 3}));
  EXPECT_EQ(c.paths[2][0], std::vector<int>({3, 2}));
  EXPECT_TRUE(c.paths[1][1].empty());
}

TEST(WanemConfigTest, DefaultsMtuAndQueue) {
  Config c;
  std::string error;
  ASSERT_TRUE(Parse("peer 1 b 10.0.0.2\npeer 0 a 10.0.0.1\n"
                    "link l 10M 1000 0\npath 0 1 l\npath 1 0 l\n",
                    &c, &error))
      << error;
  EXPECT_EQ(c.mtu, kDefaultMtu);
  EXPECT_EQ(c.peers[0].netns, "a");  // sorted by index
  EXPECT_EQ(c.links[0].queue_bytes, kMinDefaultQueueBytes);
  EXPECT_EQ(DefaultQueueBytes(1000000000, 35000000), 8750000u);
  EXPECT_EQ(DefaultQueueBytes(1000000, 1000000), kMinDefaultQueueBytes);
}

TEST(WanemConfigTest, ParsesRates) {
  uint64_t r = 0;
  EXPECT_TRUE(ParseRate("5000000", &r));
  EXPECT_EQ(r, 5000000u);
  EXPECT_TRUE(ParseRate("2.5G", &r));
  EXPECT_EQ(r, 2500000000u);
  EXPECT_TRUE(ParseRate("1e9", &r));
  EXPECT_EQ(r, 1000000000u);
  EXPECT_TRUE(ParseRate("64k", &r));
  EXPECT_EQ(r, 64000u);
  EXPECT_FALSE(ParseRate("", &r));
  EXPECT_FALSE(ParseRate("-1", &r));
  EXPECT_FALSE(ParseRate("fast", &r));
  EXPECT_FALSE(ParseRate("1.5", &r));
  EXPECT_FALSE(ParseRate("10X", &r));
}

struct BadCase {
  const char* text;
  const char* expect;  // substring of the error
};

TEST(WanemConfigTest, RejectsBadLinesNamingThem) {
  const std::string base =
      "peer 0 a 10.0.0.1\npeer 1 b 10.0.0.2\nlink l 10M 1000 0\n"
      "path 0 1 l\npath 1 0 l\n";  // lines 1-5
  const BadCase cases[] = {
      {"frobnicate 3\n", "line 6: unknown keyword 'frobnicate'"},
      {"mtu\n", "line 6: expected 'mtu <bytes>'"},
      {"mtu 100\n", "line 6: bad mtu '100'"},
      {"mtu 70000\n", "line 6: bad mtu"},
      {"mtu 9000\nmtu 9000\n", "line 7: mtu given twice"},
      {"peer 2 c\n", "line 6: expected 'peer"},
      {"peer x c 10.0.0.3\n", "line 6: bad peer index 'x'"},
      {"peer 2 c 10.0.0.300\n", "line 6: bad IPv4 address '10.0.0.300'"},
      {"peer 1 c 10.0.0.3\n", "line 6: peer 1 defined twice"},
      {"peer 2 a 10.0.0.3\n", "line 6: namespace 'a' already used by peer 0"},
      {"peer 2 c 10.0.0.1\n", "line 6: address 10.0.0.1 already used by peer 0"},
      {"link m 10M 1000\n", "line 6: expected 'link"},
      {"link l 10M 1000 0\n", "line 6: link 'l' defined twice"},
      {"link m ten 1000 0\n", "line 6: bad rate 'ten'"},
      {"link m 10M -5 0\n", "line 6: bad delay '-5'"},
      {"link m 10M 1000 1.5\n", "line 6: bad loss probability '1.5'"},
      {"link m 10M 1000 0 lots\n", "line 6: bad queue size 'lots'"},
      {"link m 10M 1000 0 1000\n", "line 6: queue of link 'm' (1000 bytes) is smaller than the mtu"},
      {"path 0 1\n", "line 6: expected 'path"},
      {"path 0 0 l\n", "line 6: path from peer 0 to itself"},
      {"path 0 1 l\n", "line 6: second path 0 -> 1 (first on line 4)"},
      {"path 0 5 l\n", "line 6: path names peer 5, which is not defined"},
      {"path 0 x l\n", "line 6: bad peer index 'x'"},
      {"link m 1G 5 0\npath 0 1 m m\n", "line 7: link 'm' appears twice"},
      {"peer 3 d 10.0.0.4\n", "line 6: peer index 3 but only 3 peers"},
  };
  for (const BadCase& bad : cases) {
    Config c;
    std::string error;
    EXPECT_FALSE(Parse(base + bad.text, &c, &error)) << bad.text;
    EXPECT_NE(error.find(bad.expect), std::string::npos)
        << "for: " << bad.text << "got: " << error;
  }
}

TEST(WanemConfigTest, RejectsUnknownLinkAndMissingPath) {
  Config c;
  std::string error;
  EXPECT_FALSE(Parse("peer 0 a 10.0.0.1\npeer 1 b 10.0.0.2\nlink l 1G 5 0\n"
                     "path 0 1 l nope\npath 1 0 l\n",
                     &c, &error));
  EXPECT_NE(error.find("line 4: unknown link 'nope' in path 0 -> 1"),
            std::string::npos)
      << error;
  EXPECT_FALSE(Parse("peer 0 a 10.0.0.1\npeer 1 b 10.0.0.2\nlink l 1G 5 0\n"
                     "path 0 1 l\n",
                     &c, &error));
  EXPECT_NE(error.find("missing path 1 -> 0"), std::string::npos) << error;
  EXPECT_FALSE(Parse("# nothing\n", &c, &error));
  EXPECT_NE(error.find("no peer"), std::string::npos) << error;
}

TEST(WanemConfigTest, LoadConfigNamesTheFile) {
  Config c;
  std::string error;
  EXPECT_FALSE(LoadConfig("/nonexistent/wan.conf", &c, &error));
  EXPECT_NE(error.find("/nonexistent/wan.conf: cannot open"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace meridian::wanem
