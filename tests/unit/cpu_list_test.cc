// The CPU-list syntax of MERIDIAN_PROGRESS_CPUS and of every log line and
// meridian-info field that names CPUs or NUMA nodes.
#include "runtime/src/cpu_list.h"

#include "gtest/gtest.h"

namespace meridian::runtime {
namespace {

TEST(CpuListTest, ParsesListsAndRanges) {
  struct Case {
    const char* text;
    CpuList want;
  } cases[] = {
      {"0", {0}},
      {"0-3", {0, 1, 2, 3}},
      {"0-3,8", {0, 1, 2, 3, 8}},
      {"8,0-1", {0, 1, 8}},              // order does not matter
      {"0-2,1-3", {0, 1, 2, 3}},         // nor do overlaps
      {" 4 , 6-7 ", {4, 6, 7}},          // spaces around items
      {"5-5", {5}},
      {"65535", {kMaxCpuIndex}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<CpuList> got = ParseCpuList(c.text);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, c.want);
  }
}

TEST(CpuListTest, RejectsMalformedLists) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "empty CPU list"},
      {"  ", "empty CPU list"},
      {"0,,1", "empty item"},
      {"0,", "empty item"},
      {"a", "'a' is not a CPU index"},
      {"0-", "'0-' is not a CPU index"},
      {"-1", "'-1' is not a CPU index"},
      {"+1", "'+1' is not a CPU index"},
      {"1-2-3", "'1-2-3' is not a CPU index"},
      {"3-1", "runs backwards"},
      {"0x3", "is not a CPU index"},
      {"65536", "above 65535"},
      {"0-99999999999", "is not a CPU index"},  // overflows int
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<CpuList> got = ParseCpuList(c.text);
    ASSERT_FALSE(got.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << got.status();
    EXPECT_NE(got.status().message().find(c.says), std::string::npos) << got.status();
  }
}

TEST(CpuListTest, TextIsHwlocListSyntaxAndRoundTrips) {
  EXPECT_EQ(CpuListText({}), "");
  EXPECT_EQ(CpuListText({3}), "3");
  EXPECT_EQ(CpuListText({0, 1}), "0-1");  // as hwloc_bitmap_list_asprintf
  EXPECT_EQ(CpuListText({0, 1, 2, 3, 8}), "0-3,8");
  EXPECT_EQ(CpuListText({0, 2, 4, 5, 6, 9}), "0,2,4-6,9");
  for (const char* text : {"0-3,8", "1", "0,2,4-6,9", "16-31,48-63"}) {
    EXPECT_EQ(CpuListText(*ParseCpuList(text)), text);
  }
}

TEST(CpuListTest, SetHelpers) {
  EXPECT_EQ(Intersect({0, 1, 2, 3}, {2, 3, 4}), (CpuList{2, 3}));
  EXPECT_TRUE(Intersect({0, 1}, {2, 3}).empty());
  EXPECT_TRUE(IsSubset({2, 3}, {0, 1, 2, 3}));
  EXPECT_FALSE(IsSubset({3, 4}, {0, 1, 2, 3}));
  EXPECT_TRUE(IsSubset({}, {0}));
}

}  // namespace
}  // namespace meridian::runtime
