// OpSpec::Decode on any 16 bytes of a data frame's descriptor, then the
// formatting a mismatch error does with it: every enum may hold a value no
// table knows, and ToString must print it rather than index out of range.
// Encode(Decode(d)) must give back d except for byte 3, which the layout
// leaves unused (and Encode zeroes).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "collectives/op_descriptor.h"
#include "tests/fuzz/fuzz_check.h"
#include "transport/framing.h"

using meridian::collectives::MismatchMessage;
using meridian::collectives::OpSpec;
using meridian::transport::OpDescriptor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  OpDescriptor theirs_d{};
  OpDescriptor mine_d{};
  fdp.ConsumeData(theirs_d.data(), theirs_d.size());
  fdp.ConsumeData(mine_d.data(), mine_d.size());
  int my_rank = fdp.ConsumeIntegral<int>();
  int peer = fdp.ConsumeIntegral<int>();
  uint64_t op_seq = fdp.ConsumeIntegral<uint64_t>();

  OpSpec theirs = OpSpec::Decode(theirs_d);
  OpDescriptor again = theirs.Encode();
  OpDescriptor expect = theirs_d;
  expect[3] = 0;
  FUZZ_CHECK(again == expect);

  std::string text = theirs.ToString();
  FUZZ_CHECK(!text.empty() && text.back() == ')');
  OpSpec mine = OpSpec::Decode(mine_d);
  std::string msg = MismatchMessage(my_rank, mine, peer, theirs, op_seq);
  FUZZ_CHECK(msg.find(text) != std::string::npos);
  FUZZ_CHECK(msg.find(mine.ToString()) != std::string::npos);
  return 0;
}
