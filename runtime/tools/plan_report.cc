#include "runtime/tools/plan_report.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "planner/choose.h"
#include "planner/topology.h"
#include "planner/topology_gen.h"

namespace meridian::tools {

namespace {

// "4K", "64M", "1G" or plain bytes; false when malformed.
bool ParseBytes(const std::string& text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t mult = 1;
  std::string digits = text;
  switch (text.back()) {
    case 'K': case 'k': mult = 1ull << 10; digits.pop_back(); break;
    case 'M': case 'm': mult = 1ull << 20; digits.pop_back(); break;
    case 'G': case 'g': mult = 1ull << 30; digits.pop_back(); break;
    default: break;
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = std::stoull(digits) * mult;
  return true;
}

bool Load(const std::string& source, planner::Topology* t, std::string* error) {
  const std::string prefix = "scenario:";
  if (source.rfind(prefix, 0) == 0) {
    auto s = planner::ScenarioTopology(source.substr(prefix.size()));
    if (!s.ok()) {
      *error = std::string(s.status().message());
      return false;
    }
    *t = *std::move(s);
    return true;
  }
  std::ifstream in(source);
  if (!in) {
    *error = "cannot read " + source;
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = planner::ParseTopology(text.str());
  if (!parsed.ok()) {
    *error = source + ": " + std::string(parsed.status().message());
    return false;
  }
  *t = *std::move(parsed);
  return true;
}

}  // namespace

int PrintPlanReport(const PlanReportArgs& args) {
  planner::Topology topology;
  std::string error;
  if (!Load(args.source, &topology, &error)) {
    std::fprintf(stderr, "meridian-info: %s\n", error.c_str());
    return 2;
  }
  planner::PlannerConfig config;
  if (args.algo == "ring" || args.algo == "tree" || args.algo == "hier") {
    config.forced = true;
    config.force = args.algo == "ring"   ? planner::Algorithm::kRing
                   : args.algo == "tree" ? planner::Algorithm::kTree
                                         : planner::Algorithm::kHierarchical;
  } else if (args.algo != "auto") {
    std::fprintf(stderr, "meridian-info: --algo '%s' is not one of auto, ring, tree, hier\n",
                 args.algo.c_str());
    return 2;
  }
  if (args.ring_order != "auto" && args.ring_order != "rank") {
    std::fprintf(stderr, "meridian-info: --ring-order '%s' is not one of auto, rank\n",
                 args.ring_order.c_str());
    return 2;
  }
  config.reorder_ring = args.ring_order == "auto";
  std::printf("topology: %d peers, %d region(s) (%s)\n", topology.size(),
              topology.num_regions(), args.source.c_str());
  for (const std::string& size : args.sizes) {
    uint64_t bytes = 0;
    if (!ParseBytes(size, &bytes)) {
      std::fprintf(stderr, "meridian-info: bad size '%s' (e.g. 4K, 64M)\n", size.c_str());
      return 2;
    }
    planner::PlanRequest shape;
    shape.collective = planner::Collective::kAllReduce;
    shape.count = bytes / 4;
    shape.chunk_elems = (128 << 10) / 4;  // MERIDIAN_CHUNK_BYTES' default
    planner::PlanChoice choice = planner::ChoosePlan(topology, shape, 4, config);
    std::printf("\nall_reduce of %s (float32):\n%s", size.c_str(), choice.Explain().c_str());
  }
  return 0;
}

}  // namespace meridian::tools
