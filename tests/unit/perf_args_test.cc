// Tests of the perf tools' shared pieces that need no communicator: flags,
// size sweep, collective geometry and bandwidth formulas, half/bfloat16
// conversion, data patterns and the table format.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "perf/common/args.h"
#include "perf/common/collective.h"
#include "perf/common/datatype.h"
#include "perf/common/fill_check.h"
#include "perf/common/float16.h"
#include "perf/common/report.h"

namespace meridian::perf {
namespace {

ParseOutcome Parse(std::vector<const char*> args, Options* o,
                   std::string* error) {
  args.insert(args.begin(), "all_reduce_perf");
  return ParseArgs(static_cast<int>(args.size()), args.data(), o, error);
}

TEST(PerfArgsTest, ParsesSizesWithSuffixes) {
  size_t bytes = 0;
  EXPECT_TRUE(ParseSize("8", &bytes));
  EXPECT_EQ(bytes, 8u);
  EXPECT_TRUE(ParseSize("64K", &bytes));
  EXPECT_EQ(bytes, 65536u);
  EXPECT_TRUE(ParseSize("4m", &bytes));
  EXPECT_EQ(bytes, 4u << 20);
  EXPECT_TRUE(ParseSize("1G", &bytes));
  EXPECT_EQ(bytes, 1u << 30);
  EXPECT_TRUE(ParseSize("2KB", &bytes));
  EXPECT_EQ(bytes, 2048u);
  EXPECT_TRUE(ParseSize("0", &bytes));
  EXPECT_EQ(bytes, 0u);
  for (const char* bad : {"", "K", "-1", " 8", "8 ", "1T", "1.5M", "0x10",
                          "99999999999999999999", "17179869184G"}) {
    EXPECT_FALSE(ParseSize(bad, &bytes)) << bad;
  }
}

TEST(PerfArgsTest, DefaultsAreThoseOfNcclTests) {
  Options o;
  std::string error;
  ASSERT_EQ(Parse({}, &o, &error), ParseOutcome::kRun);
  EXPECT_EQ(o.min_bytes, 32u << 20);
  EXPECT_EQ(o.max_bytes, 32u << 20);
  EXPECT_EQ(o.iters, 20);
  EXPECT_EQ(o.warmup_iters, 5);
  EXPECT_TRUE(o.check);
  EXPECT_EQ(o.types, std::vector<mdnDataType_t>{mdnFloat32});
  EXPECT_EQ(o.ops, std::vector<mdnRedOp_t>{mdnSum});
  EXPECT_EQ(o.root, 0);
  EXPECT_FALSE(o.blocking);
  EXPECT_TRUE(o.json_path.empty());
}

TEST(PerfArgsTest, ParsesEveryFlagInEverySpelling) {
  Options o;
  std::string error;
  ASSERT_EQ(
      Parse(
          {"-b", "8", "-e64M",  "--stepfactor", "2",  "--iters=7", "-w", "0",
           "-c", "0", "-d",     "all",          "-o", "max",       "-r", "all",
           "-z", "1", "--json", "out.json",     "-i", "4K"},
          &o, &error),
      ParseOutcome::kRun)
      << error;
  EXPECT_EQ(o.min_bytes, 8u);
  EXPECT_EQ(o.max_bytes, 64u << 20);
  EXPECT_EQ(o.step_factor, 2u);
  EXPECT_EQ(o.step_bytes, 4096u);
  EXPECT_EQ(o.iters, 7);
  EXPECT_EQ(o.warmup_iters, 0);
  EXPECT_FALSE(o.check);
  EXPECT_EQ(o.types.size(), static_cast<size_t>(mdnNumDataTypes));
  EXPECT_EQ(o.ops, std::vector<mdnRedOp_t>{mdnMax});
  EXPECT_EQ(o.root, -1);
  EXPECT_TRUE(o.blocking);
  EXPECT_EQ(o.json_path, "out.json");

  ASSERT_EQ(
      Parse({"--datatype", "bfloat16", "--op", "all", "--root=3"}, &o, &error),
      ParseOutcome::kRun);
  EXPECT_EQ(o.types, std::vector<mdnDataType_t>{mdnBfloat16});
  EXPECT_EQ(o.ops.size(), static_cast<size_t>(mdnNumRedOps));
  EXPECT_EQ(o.root, 3);
}

TEST(PerfArgsTest, RejectsBadArguments) {
  std::string error;
  for (std::vector<const char*> args :
       std::vector<std::vector<const char*>>{{"-x", "1"},
                                             {"-b"},
                                             {"-d", "float32"},
                                             {"-o", "mean"},
                                             {"-n", "0"},
                                             {"-w", "-1"},
                                             {"-c", "2"},
                                             {"-z", "yes"},
                                             {"-b", "2M", "-e", "1M"},
                                             {"-b", "0", "-e", "8", "-f", "2"},
                                             {"-b", "1", "-e", "8", "-i", "0"},
                                             {"--json", ""},
                                             {"--minbytes"},
                                             {"-r", "-2"}}) {
    Options o;
    error.clear();
    EXPECT_EQ(Parse(args, &o, &error), ParseOutcome::kError) << args[0];
    EXPECT_FALSE(error.empty());
  }
  Options o;
  EXPECT_EQ(Parse({"-b", "8", "-h"}, &o, &error), ParseOutcome::kHelp);
  EXPECT_EQ(Parse({"--help"}, &o, &error), ParseOutcome::kHelp);
}

TEST(PerfArgsTest, SweepsSizesAsNcclTests) {
  Options o;
  o.min_bytes = 8;
  o.max_bytes = 64u << 20;
  o.step_factor = 2;
  std::vector<size_t> sizes = SizeSweep(o);
  ASSERT_EQ(sizes.size(), 24u);
  EXPECT_EQ(sizes.front(), 8u);
  EXPECT_EQ(sizes.back(), 64u << 20);

  o.min_bytes = 1024;
  o.max_bytes = 3500;
  o.step_factor = 1;
  o.step_bytes = 1024;
  EXPECT_EQ(SizeSweep(o), (std::vector<size_t>{1024, 2048, 3072}));

  o.min_bytes = o.max_bytes = 4096;
  EXPECT_EQ(SizeSweep(o), std::vector<size_t>{4096});

  o.min_bytes = 1;
  o.max_bytes = SIZE_MAX;
  o.step_factor = 1u << 20;
  EXPECT_EQ(SizeSweep(o).size(), 4u);  // 1, 2^20, 2^40, 2^60; then overflow
}

TEST(PerfCollectiveTest, GeometryFollowsNcclTests) {
  Geometry g = ComputeGeometry(Collective::kAllReduce, 8, 4, 4);
  EXPECT_EQ(g.param_count, 2u);
  EXPECT_EQ(g.send_count, 2u);
  EXPECT_EQ(g.recv_count, 2u);
  EXPECT_EQ(ReportedBytes(g, 4), 8u);

  g = ComputeGeometry(Collective::kAllGather, 1u << 20, 4, 4);
  EXPECT_EQ(g.param_count, 65536u);
  EXPECT_EQ(g.send_count, 65536u);
  EXPECT_EQ(g.recv_count, 262144u);
  EXPECT_EQ(g.send_inplace_offset, 65536u);
  EXPECT_EQ(g.recv_inplace_offset, 0u);
  EXPECT_EQ(ReportedBytes(g, 4), 1u << 20);

  // 262144 / 3 = 87381 floats, rounded down to 16 bytes (4 floats).
  g = ComputeGeometry(Collective::kReduceScatter, 1u << 20, 4, 3);
  EXPECT_EQ(g.param_count, 87380u);
  EXPECT_EQ(g.send_count, 3 * 87380u);
  EXPECT_EQ(g.recv_count, 87380u);
  EXPECT_EQ(g.send_inplace_offset, 0u);
  EXPECT_EQ(g.recv_inplace_offset, 87380u);

  g = ComputeGeometry(Collective::kAllGather, 8, 4, 4);  // below 16 B per rank
  EXPECT_EQ(g.param_count, 0u);
  EXPECT_EQ(ReportedBytes(g, 4), 0u);
}

TEST(PerfCollectiveTest, BandwidthFormulasAreThoseOfNcclTests) {
  // 1e9 bytes in one second is 1 GB/s of algbw.
  EXPECT_DOUBLE_EQ(AlgBandwidth(Collective::kAllReduce, 250000000, 4, 4, 1.0),
                   1.0);
  EXPECT_DOUBLE_EQ(AlgBandwidth(Collective::kBroadcast, 250000000, 4, 4, 0.5),
                   2.0);
  // All-gather and reduce-scatter count the whole buffer: per-rank count * n.
  EXPECT_DOUBLE_EQ(AlgBandwidth(Collective::kAllGather, 62500000, 4, 4, 1.0),
                   1.0);
  EXPECT_DOUBLE_EQ(
      AlgBandwidth(Collective::kReduceScatter, 62500000, 4, 4, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(AlgBandwidth(Collective::kAllReduce, 100, 4, 4, 0.0), 0.0);

  EXPECT_DOUBLE_EQ(BusBandwidthFactor(Collective::kAllReduce, 4), 1.5);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(Collective::kAllReduce, 2), 1.0);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(Collective::kAllGather, 4), 0.75);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(Collective::kReduceScatter, 8), 0.875);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(Collective::kBroadcast, 8), 1.0);
  EXPECT_DOUBLE_EQ(BusBandwidthFactor(Collective::kReduce, 8), 1.0);
}

TEST(PerfFloat16Test, RoundsAsTheCompilerDoes) {
#if defined(__FLT16_MAX__)
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    _Float16 reference;
    std::memcpy(&reference, &h, sizeof(h));
    const float f = HalfToFloat(h);
    if (std::isnan(static_cast<float>(reference))) {
      EXPECT_TRUE(std::isnan(f));
    } else {
      ASSERT_EQ(f, static_cast<float>(reference)) << std::hex << bits;
    }
  }
  // Every 4099th float bit pattern, both signs, all exponents.
  for (uint64_t bits = 0; bits <= 0xffffffffull; bits += 4099) {
    const uint32_t u = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &u, sizeof(f));
    const _Float16 reference = static_cast<_Float16>(f);
    uint16_t expected;
    std::memcpy(&expected, &reference, sizeof(expected));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
    } else {
      ASSERT_EQ(FloatToHalf(f), expected) << std::hex << u;
    }
  }
#else
  GTEST_SKIP() << "compiler has no _Float16";
#endif
}

TEST(PerfFloat16Test, ConvertsKnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);       // rounds up to infinity
  EXPECT_EQ(FloatToHalf(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);

  EXPECT_EQ(FloatToBfloat16(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBfloat16(-256.0f), 0xc380);
  EXPECT_EQ(FloatToBfloat16(1.00390625f), 0x3f80);  // tie, to even
  EXPECT_EQ(FloatToBfloat16(1.01171875f), 0x3f82);  // tie, to even (up)
  EXPECT_EQ(Bfloat16ToFloat(0x4049), 3.140625f);
  EXPECT_TRUE(std::isnan(Bfloat16ToFloat(FloatToBfloat16(std::nanf("")))));
  EXPECT_EQ(FloatToBfloat16(INFINITY), 0x7f80);
}

// Whatever order a library reduces in, rounding to the type after every
// step, it must land on ReducedValue: the patterns keep every partial result
// exact.
TEST(PerfFillCheckTest, PatternsReduceExactlyInAnyOrder) {
  std::vector<unsigned char> slot(8);
  auto round_trip = [&](mdnDataType_t t, double v) {
    StoreElement(slot.data(), 0, t, v);
    return LoadElement(slot.data(), 0, t);
  };
  for (int t = 0; t < mdnNumDataTypes; ++t) {
    const auto type = static_cast<mdnDataType_t>(t);
    for (int o = 0; o < mdnNumRedOps; ++o) {
      const auto op = static_cast<mdnRedOp_t>(o);
      for (int n : {1, 2, 3, 4, 8}) {
        const DataPattern p = MakePattern(Collective::kAllReduce, type, op, n);
        for (size_t i = 0; i < 500; ++i) {
          const double expected = ReducedValue(p, i);
          ASSERT_EQ(round_trip(type, expected), expected);
          for (int start = 0; start < n; ++start) {  // each ring rotation
            double acc = round_trip(type, InputValue(p, start, i));
            ASSERT_EQ(acc, InputValue(p, start, i));
            for (int step = 1; step < n; ++step) {
              const double v = InputValue(p, (start + step) % n, i);
              switch (op) {
                case mdnSum:
                case mdnAvg:
                  acc += v;
                  break;
                case mdnProd:
                  acc *= v;
                  break;
                case mdnMax:
                  acc = std::max(acc, v);
                  break;
                case mdnMin:
                  acc = std::min(acc, v);
                  break;
                default:
                  break;
              }
              acc = round_trip(type, acc);
            }
            if (op == mdnAvg) acc = round_trip(type, acc / n);
            ASSERT_EQ(acc, expected)
                << DataTypeName(type) << " " << RedOpName(op) << " n=" << n
                << " i=" << i;
          }
        }
      }
    }
  }
}

// A reference of each collective, run over every rank's FillInput, must
// produce what FillExpected says, in and out of place.
TEST(PerfFillCheckTest, ExpectedMatchesAReferenceCollective) {
  const int n = 3;
  const int root = 1;
  for (Collective coll :
       {Collective::kAllReduce, Collective::kBroadcast, Collective::kReduce,
        Collective::kAllGather, Collective::kReduceScatter}) {
    for (mdnDataType_t type : {mdnInt8, mdnFloat16, mdnUint64}) {
      const DataPattern p = MakePattern(coll, type, mdnProd, n);
      const size_t tb = DataTypeBytes(type);
      const Geometry g = ComputeGeometry(coll, 4096, tb, n);
      std::vector<std::vector<unsigned char>> in(
          n, std::vector<unsigned char>(g.send_count * tb));
      for (int r = 0; r < n; ++r) FillInput(coll, p, g, r, in[r].data());
      for (int r = 0; r < n; ++r) {
        std::vector<unsigned char> out(g.recv_count * tb),
            expected(g.recv_count * tb);
        const size_t count = FillExpected(coll, p, g, r, root, expected.data());
        for (size_t k = 0; k < g.recv_count; ++k) {
          double v = 0;
          switch (coll) {
            case Collective::kBroadcast:
              v = LoadElement(in[root].data(), k, type);
              break;
            case Collective::kAllGather:
              v = LoadElement(in[k / g.param_count].data(), k % g.param_count,
                              type);
              break;
            default: {
              const size_t j = coll == Collective::kReduceScatter
                                   ? r * g.param_count + k
                                   : k;
              v = 1;
              for (int s = 0; s < n; ++s)
                v *= LoadElement(in[s].data(), j, type);
            }
          }
          StoreElement(out.data(), k, type, v);
        }
        if (coll == Collective::kReduce && r != root) {
          EXPECT_EQ(count, 0u);
          continue;
        }
        ASSERT_EQ(count, g.recv_count);
        EXPECT_EQ(CountWrong(p, out.data(), expected.data(), count), 0u)
            << CollectiveName(coll) << " " << DataTypeName(type) << " rank "
            << r;
        std::memset(out.data(), 0, out.size());  // an output nobody wrote
        EXPECT_GT(CountWrong(p, out.data(), expected.data(), count), count / 4);
      }
    }
  }
}

TEST(PerfFillCheckTest, CountsWrongElementsAndTolerance) {
  const DataPattern sum =
      MakePattern(Collective::kAllReduce, mdnFloat32, mdnSum, 4);
  std::vector<float> expected{1, 2, 3, 4}, got{1, 2, 3, 4};
  EXPECT_EQ(CountWrong(sum, got.data(), expected.data(), 4), 0u);
  got[2] = std::nextafter(3.0f, 4.0f);
  got[3] = NAN;
  EXPECT_EQ(CountWrong(sum, got.data(), expected.data(), 4), 2u);

  // Averages of floats may be off by an ulp or so (the library may scale
  // before it sums), but not by much more.
  const DataPattern avg =
      MakePattern(Collective::kAllReduce, mdnFloat32, mdnAvg, 3);
  got = expected;
  got[1] = std::nextafter(2.0f, 3.0f);
  EXPECT_EQ(CountWrong(avg, got.data(), expected.data(), 4), 0u);
  got[1] = 2.5f;
  EXPECT_EQ(CountWrong(avg, got.data(), expected.data(), 4), 1u);

  std::vector<unsigned char> a(1000, 7), b(1000, 7);
  EXPECT_EQ(HashBytes(a.data(), a.size()), HashBytes(b.data(), b.size()));
  b[999] = 8;
  EXPECT_NE(HashBytes(a.data(), a.size()), HashBytes(b.data(), b.size()));
}

TEST(PerfReportTest, RowsLookLikeNcclTests) {
  Row row;
  row.bytes = 67108864;
  row.count = 16777216;
  row.type = "float";
  row.redop = "sum";
  row.root = -1;
  row.out_of_place = Measurement{12345.6, 5.43, 8.15, 0};
  row.in_place = Measurement{99.5, 0.1, 0.15, -1};
  EXPECT_EQ(FormatRow(row),
            "    67108864      16777216     float     sum      -1    12346    "
            "5.43    8.15      0"
            "    99.50    0.10    0.15    N/A");

  Row slow = row;
  slow.out_of_place.busbw = 2.0;
  slow.out_of_place.wrong = 3;
  slow.in_place.busbw = 4.0;
  slow.in_place.wrong = 2;
  const Summary s = Summarize({row, slow});
  EXPECT_EQ(s.wrong, 5);
  EXPECT_DOUBLE_EQ(s.avg_busbw, (8.15 + 0.15 + 2.0 + 4.0) / 4);
}

}  // namespace
}  // namespace meridian::perf
