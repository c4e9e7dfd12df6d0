#include "perf/common/report.h"

#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "perf/common/datatype.h"

namespace meridian::perf {
namespace {

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, args);
  va_end(args);
  return buf;
}

// nccl-tests prints fewer decimals as the time grows.
std::string FormatTime(double us) {
  if (us >= 10000.0) return Format("%7.0f", us);
  if (us >= 100.0) return Format("%7.1f", us);
  return Format("%7.2f", us);
}

std::string FormatMeasurement(const Measurement& m) {
  const std::string wrong =
      m.wrong < 0 ? "N/A" : Format("%lld", static_cast<long long>(m.wrong));
  return Format("  %7s  %6.2f  %6.2f  %5s", FormatTime(m.time_us).c_str(),
                m.algbw, m.busbw, wrong.c_str());
}

std::string JsonMeasurement(const Measurement& m) {
  const std::string wrong =
      m.wrong < 0 ? "null" : Format("%lld", static_cast<long long>(m.wrong));
  return Format(
      "{\"time_us\": %.3f, \"algbw_gbps\": %.6f, \"busbw_gbps\": %.6f, "
      "\"wrong\": %s}",
      m.time_us, m.algbw, m.busbw, wrong.c_str());
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names)
    out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return "[" + out + "]";
}

}  // namespace

Summary Summarize(const std::vector<Row>& rows) {
  Summary s;
  double busbw_sum = 0.0;
  for (const Row& r : rows) {
    for (const Measurement* m : {&r.out_of_place, &r.in_place}) {
      if (m->wrong > 0) s.wrong += m->wrong;
      busbw_sum += m->busbw;
    }
  }
  if (!rows.empty()) s.avg_busbw = busbw_sum / (2.0 * rows.size());
  return s;
}

void PrintHeader(FILE* out, const RunInfo& info, const Options& o) {
  std::fprintf(out, "# Meridian %s_perf, library %s (built against %d.%d.%d)\n",
               CollectiveName(info.coll), info.library_version.c_str(),
               MDN_VERSION_MAJOR, MDN_VERSION_MINOR, MDN_VERSION_PATCH);
  std::string step = o.step_factor > 1 ? Format("%zu(factor)", o.step_factor)
                                       : Format("%zu(bytes)", o.step_bytes);
  std::fprintf(
      out,
      "# nRanks %d connectionsPerPeer %d minBytes %zu maxBytes %zu step: %s "
      "warmup iters: %d iters: %d validation: %d blocking: %d\n",
      info.nranks, info.connections_per_peer, o.min_bytes, o.max_bytes,
      step.c_str(), o.warmup_iters, o.iters, o.check ? 1 : 0,
      o.blocking ? 1 : 0);
  std::fprintf(out, "#\n");
  std::fprintf(out,
               "# %10s  %12s  %8s  %6s  %6s           out-of-place             "
               "          in-place          \n",
               "", "", "", "", "");
  std::fprintf(
      out,
      "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s\n",
      "size", "count", "type", "redop", "root", "time", "algbw", "busbw",
      "#wrong", "time", "algbw", "busbw", "#wrong");
  std::fprintf(
      out,
      "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s\n",
      "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)",
      "(GB/s)", "(GB/s)", "");
  std::fflush(out);
}

std::string FormatRow(const Row& r) {
  return Format("%12zu  %12zu  %8s  %6s  %6d", r.bytes, r.count, r.type,
                r.redop, r.root) +
         FormatMeasurement(r.out_of_place) + FormatMeasurement(r.in_place);
}

void PrintFooter(FILE* out, const Summary& s) {
  std::fprintf(out, "# Out of bounds values : %lld %s\n",
               static_cast<long long>(s.wrong), s.wrong ? "FAILED" : "OK");
  std::fprintf(out, "# Avg bus bandwidth    : %.4f \n", s.avg_busbw);
  std::fprintf(out, "#\n");
  std::fflush(out);
}

bool WriteJson(const std::string& path, const RunInfo& info, const Options& o,
               const std::vector<Row>& rows, std::string* error_p) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    *error_p = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::vector<std::string> types, ops;
  for (mdnDataType_t t : o.types) types.push_back(DataTypeName(t));
  for (mdnRedOp_t op : o.ops) ops.push_back(RedOpName(op));
  const Summary s = Summarize(rows);
  std::fprintf(
      f, "{\n  \"benchmark\": \"%s\",\n  \"implementation\": \"meridian\",\n",
      CollectiveName(info.coll));
  std::fprintf(f, "  \"library_version\": \"%s\",\n  \"world_size\": %d,\n",
               info.library_version.c_str(), info.nranks);
  std::fprintf(f, "  \"connections_per_peer\": %d,\n",
               info.connections_per_peer);
  std::fprintf(f,
               "  \"options\": {\"min_bytes\": %zu, \"max_bytes\": %zu, "
               "\"step_bytes\": %zu, "
               "\"step_factor\": %zu, \"iters\": %d, \"warmup_iters\": %d, "
               "\"check\": %d, "
               "\"blocking\": %d, \"root\": %d, \"types\": %s, \"ops\": %s},\n",
               o.min_bytes, o.max_bytes, o.step_bytes, o.step_factor, o.iters,
               o.warmup_iters, o.check ? 1 : 0, o.blocking ? 1 : 0, o.root,
               JoinNames(types).c_str(), JoinNames(ops).c_str());
  std::fprintf(f, "  \"results\": [");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::fprintf(f,
                 "%s\n    {\"size\": %zu, \"count\": %zu, \"type\": \"%s\", "
                 "\"redop\": \"%s\", "
                 "\"root\": %d, \"out_of_place\": %s, \"in_place\": %s}",
                 i ? "," : "", r.bytes, r.count, r.type, r.redop, r.root,
                 JsonMeasurement(r.out_of_place).c_str(),
                 JsonMeasurement(r.in_place).c_str());
  }
  std::fprintf(
      f, "\n  ],\n  \"out_of_bounds\": %lld,\n  \"avg_busbw_gbps\": %.6f\n}\n",
      static_cast<long long>(s.wrong), s.avg_busbw);
  const bool ok = std::fclose(f) == 0;
  if (!ok) *error_p = "cannot write " + path + ": " + std::strerror(errno);
  return ok;
}

}  // namespace meridian::perf
