// meridian-info --plan: which plan the planner would choose on a saved
// topology (MERIDIAN_TOPOLOGY_FILE writes one) or a reference scenario, for
// a list of message sizes, with each candidate's predicted time and why.
#ifndef MERIDIAN_RUNTIME_TOOLS_PLAN_REPORT_H_
#define MERIDIAN_RUNTIME_TOOLS_PLAN_REPORT_H_

#include <string>
#include <vector>

namespace meridian::tools {

struct PlanReportArgs {
  std::string source;              // a topology file, or "scenario:NAME"
  std::vector<std::string> sizes;  // "4K", "64M", plain bytes
  std::string algo = "auto";       // as MERIDIAN_ALGO
  std::string ring_order = "auto"; // as MERIDIAN_RING_ORDER
};

// Prints the report to stdout; returns the process exit status (2 with a
// message on stderr for unreadable input or bad arguments).
int PrintPlanReport(const PlanReportArgs& args);

}  // namespace meridian::tools

#endif  // MERIDIAN_RUNTIME_TOOLS_PLAN_REPORT_H_
