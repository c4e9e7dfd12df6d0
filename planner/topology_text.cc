// Text form of a Topology (SerializeTopology / ParseTopology).
//
//   meridian-topology 1
//   peers N
//   latency_s            N lines of N values (row i: paths i -> j)
//   bandwidth_Bps        N lines of N values
//   egress_Bps           optional, one line of N values
//   ingress_Bps          optional, one line of N values
//   region_of            optional, one line of N integers
//   trunk_Bps R          optional, R lines of R values
//   names                optional, N lines, each a name verbatim
//   end
//
// Sections come in any order after `peers`, each at most once; latency_s and
// bandwidth_Bps are required.  Numbers are written as the shortest decimal
// that reads back to the same double (std::to_chars), and read with
// std::from_chars: both are locale-independent, so a topology written by one
// process reads back bit for bit in another.  The closing `end` makes a
// truncated file an error instead of a smaller topology.
//
// ParseTopology reads files from users: every error names the line, and no
// size is trusted before the input is known to be long enough to hold it.
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "planner/topology.h"

namespace meridian::planner {
namespace {

constexpr absl::string_view kVersionLine = "meridian-topology 1";
// A dense topology of more peers than this would not be measured pair by
// pair anyway; RegionModel describes bigger groups.
constexpr int kMaxPeers = 1 << 16;

void AppendNumber(double v, std::string* out) {
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, result.ptr);
}

void AppendRow(const double* values, int count, std::string* out) {
  for (int k = 0; k < count; ++k) {
    if (k > 0) out->push_back(' ');
    AppendNumber(values[k], out);
  }
  out->push_back('\n');
}

// Splits the input into lines (a trailing '\r' is dropped, so files edited
// on Windows read the same) and hands them out with their 1-based numbers.
class LineReader {
 public:
  explicit LineReader(absl::string_view text) : text_(text) {}

  bool Next(absl::string_view* line) {
    if (pos_ >= text_.size()) return false;
    size_t end = text_.find('\n', pos_);
    if (end == absl::string_view::npos) end = text_.size();
    *line = text_.substr(pos_, end - pos_);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos_ = end + 1;
    ++number_;
    return true;
  }
  int number() const { return number_; }
  size_t remaining_bytes() const { return pos_ >= text_.size() ? 0 : text_.size() - pos_; }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
  int number_ = 0;
};

absl::Status LineError(int line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("topology line ", line, ": ", what));
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Whitespace-separated tokens of one line.
std::vector<absl::string_view> Tokens(absl::string_view line) {
  std::vector<absl::string_view> tokens;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    if (i > start) tokens.push_back(line.substr(start, i - start));
  }
  return tokens;
}

bool ParseInt(absl::string_view token, long long* value) {
  auto result = std::from_chars(token.data(), token.data() + token.size(), *value);
  return result.ec == std::errc() && result.ptr == token.data() + token.size();
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : lines_(text) {}

  absl::StatusOr<Topology> Parse() {
    absl::string_view line;
    if (!lines_.Next(&line)) return LineError(1, "empty input, want \"meridian-topology 1\"");
    if (line != kVersionLine) {
      return LineError(1, absl::StrCat("want \"", kVersionLine, "\", found \"",
                                       Shorten(line), "\" (unknown format or version)"));
    }
    if (absl::Status s = ParsePeers(); !s.ok()) return s;
    bool seen[7] = {};
    static constexpr absl::string_view kSections[7] = {
        "latency_s", "bandwidth_Bps", "egress_Bps", "ingress_Bps", "region_of", "trunk_Bps",
        "names"};
    while (true) {
      if (!lines_.Next(&line)) {
        return LineError(lines_.number() + 1, "input ends before \"end\" (truncated?)");
      }
      std::vector<absl::string_view> tokens = Tokens(line);
      if (tokens.size() == 1 && tokens[0] == "end") break;
      int section = -1;
      for (int k = 0; k < 7; ++k) {
        if (!tokens.empty() && tokens[0] == kSections[k]) section = k;
      }
      if (section < 0) {
        return LineError(lines_.number(), absl::StrCat("unknown section \"", Shorten(line),
                                                       "\""));
      }
      if (seen[section]) {
        return LineError(lines_.number(),
                         absl::StrCat("section ", kSections[section], " appears twice"));
      }
      seen[section] = true;
      if (section != 5 && tokens.size() != 1) {
        return LineError(lines_.number(),
                         absl::StrCat("section ", kSections[section], " takes no arguments"));
      }
      absl::Status s;
      switch (section) {
        case 0: s = ParseMatrix(t_.peers, /*positive_off_diagonal=*/false, &t_.latency_s); break;
        case 1: s = ParseMatrix(t_.peers, /*positive_off_diagonal=*/true, &t_.bandwidth_Bps); break;
        case 2: s = ParseVector(&t_.egress_Bps); break;
        case 3: s = ParseVector(&t_.ingress_Bps); break;
        case 4: s = ParseRegions(); break;
        case 5: s = ParseTrunks(tokens); break;
        case 6: s = ParseNames(); break;
      }
      if (!s.ok()) return s;
    }
    const int end_line = lines_.number();
    while (lines_.Next(&line)) {
      if (!Tokens(line).empty()) {
        return LineError(lines_.number(), "text after \"end\"");
      }
    }
    if (!seen[0] || !seen[1]) {
      return LineError(end_line, absl::StrCat("missing section ",
                                              seen[0] ? "bandwidth_Bps" : "latency_s"));
    }
    if (trunk_regions_ > 0 && trunk_regions_ != t_.num_regions()) {
      return LineError(trunk_line_, absl::StrCat("trunk_Bps has ", trunk_regions_,
                                                 " regions but the peers are in ",
                                                 t_.num_regions()));
    }
    // Anything the line checks above missed (they cover every value).
    if (absl::Status s = ValidateTopology(t_); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("topology: ", s.message()));
    }
    return std::move(t_);
  }

 private:
  static std::string Shorten(absl::string_view s) {
    return s.size() <= 40 ? std::string(s) : absl::StrCat(s.substr(0, 40), "...");
  }

  // Refuses a declared size whose values cannot fit in what is left of the
  // input (every value takes at least two bytes with its separator), so a
  // hostile "peers 2000000000" allocates nothing.
  absl::Status CheckRoom(size_t values, const char* what) {
    if (values > lines_.remaining_bytes() / 2 + 1) {
      return LineError(lines_.number(),
                       absl::StrCat(what, " needs ", values, " values but only ",
                                    lines_.remaining_bytes(), " bytes of input follow"));
    }
    return absl::OkStatus();
  }

  absl::Status ParsePeers() {
    absl::string_view line;
    if (!lines_.Next(&line)) return LineError(2, "input ends before \"peers N\"");
    std::vector<absl::string_view> tokens = Tokens(line);
    long long n = 0;
    if (tokens.size() != 2 || tokens[0] != "peers" || !ParseInt(tokens[1], &n)) {
      return LineError(lines_.number(), absl::StrCat("want \"peers N\", found \"",
                                                     Shorten(line), "\""));
    }
    if (n < 1 || n > kMaxPeers) {
      return LineError(lines_.number(),
                       absl::StrCat("peers ", n, " is out of range [1, ", kMaxPeers, "]"));
    }
    t_.peers = static_cast<int>(n);
    return CheckRoom(static_cast<size_t>(n) * n, "a peers x peers matrix");
  }

  // One line of exactly `count` finite, non-negative numbers.
  absl::Status ParseRow(int count, bool positive_except_at, int except, double* out) {
    absl::string_view line;
    if (!lines_.Next(&line)) {
      return LineError(lines_.number() + 1, "input ends inside a section (truncated?)");
    }
    std::vector<absl::string_view> tokens = Tokens(line);
    if (tokens.size() != static_cast<size_t>(count)) {
      return LineError(lines_.number(), absl::StrCat("want ", count, " values, found ",
                                                     tokens.size()));
    }
    for (int k = 0; k < count; ++k) {
      absl::string_view tok = tokens[k];
      double v = 0;
      auto result = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      if (result.ec != std::errc() || result.ptr != tok.data() + tok.size()) {
        return LineError(lines_.number(), absl::StrCat("value ", k + 1, " \"", Shorten(tok),
                                                       "\" is not a number"));
      }
      if (!std::isfinite(v) || v < 0) {
        return LineError(lines_.number(), absl::StrCat("value ", k + 1, " (", Shorten(tok),
                                                       ") must be finite and >= 0"));
      }
      if (positive_except_at && k != except && v == 0) {
        return LineError(lines_.number(),
                         absl::StrCat("value ", k + 1, " is 0: bandwidths must be > 0"));
      }
      out[k] = v;
    }
    return absl::OkStatus();
  }

  absl::Status ParseMatrix(int n, bool positive_off_diagonal, std::vector<double>* m) {
    if (absl::Status s = CheckRoom(static_cast<size_t>(n) * n, "this matrix"); !s.ok()) return s;
    m->assign(static_cast<size_t>(n) * n, 0);
    for (int i = 0; i < n; ++i) {
      if (absl::Status s = ParseRow(n, positive_off_diagonal, i, m->data() + size_t(i) * n);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseVector(std::vector<double>* v) {
    v->assign(t_.peers, 0);
    return ParseRow(t_.peers, false, -1, v->data());
  }

  absl::Status ParseRegions() {
    absl::string_view line;
    if (!lines_.Next(&line)) {
      return LineError(lines_.number() + 1, "input ends inside region_of (truncated?)");
    }
    std::vector<absl::string_view> tokens = Tokens(line);
    if (tokens.size() != static_cast<size_t>(t_.peers)) {
      return LineError(lines_.number(), absl::StrCat("want ", t_.peers, " region ids, found ",
                                                     tokens.size()));
    }
    t_.region_of.assign(t_.peers, 0);
    for (int k = 0; k < t_.peers; ++k) {
      long long r = -1;
      if (!ParseInt(tokens[k], &r) || r < 0 || r >= t_.peers) {
        return LineError(lines_.number(),
                         absl::StrCat("region id ", k + 1, " \"", Shorten(tokens[k]),
                                      "\" is not an integer in [0, ", t_.peers, ")"));
      }
      t_.region_of[k] = static_cast<int>(r);
    }
    return absl::OkStatus();
  }

  absl::Status ParseTrunks(const std::vector<absl::string_view>& tokens) {
    long long r = 0;
    if (tokens.size() != 2 || !ParseInt(tokens[1], &r) || r < 1 || r > t_.peers) {
      return LineError(lines_.number(),
                       absl::StrCat("want \"trunk_Bps R\" with 1 <= R <= peers (", t_.peers,
                                    ")"));
    }
    trunk_regions_ = static_cast<int>(r);
    trunk_line_ = lines_.number();
    return ParseMatrix(trunk_regions_, /*positive_off_diagonal=*/false, &t_.trunk_Bps);
  }

  absl::Status ParseNames() {
    t_.names.assign(t_.peers, "");
    for (int k = 0; k < t_.peers; ++k) {
      absl::string_view line;
      if (!lines_.Next(&line)) {
        return LineError(lines_.number() + 1, "input ends inside names (truncated?)");
      }
      t_.names[k] = std::string(line);
    }
    return absl::OkStatus();
  }

  LineReader lines_;
  Topology t_;
  int trunk_regions_ = 0;
  int trunk_line_ = 0;
};

}  // namespace

std::string SerializeTopology(const Topology& t) {
  const int n = t.peers;
  std::string out;
  out.reserve(static_cast<size_t>(n) * n * 2 * 12 + 256);
  absl::StrAppend(&out, kVersionLine, "\npeers ", n, "\nlatency_s\n");
  for (int i = 0; i < n; ++i) AppendRow(t.latency_s.data() + size_t(i) * n, n, &out);
  out += "bandwidth_Bps\n";
  for (int i = 0; i < n; ++i) AppendRow(t.bandwidth_Bps.data() + size_t(i) * n, n, &out);
  if (!t.egress_Bps.empty()) {
    out += "egress_Bps\n";
    AppendRow(t.egress_Bps.data(), n, &out);
  }
  if (!t.ingress_Bps.empty()) {
    out += "ingress_Bps\n";
    AppendRow(t.ingress_Bps.data(), n, &out);
  }
  if (!t.region_of.empty()) {
    out += "region_of\n";
    for (int i = 0; i < n; ++i) absl::StrAppend(&out, i > 0 ? " " : "", t.region_of[i]);
    out += "\n";
  }
  if (!t.trunk_Bps.empty()) {
    const int r = t.num_regions();
    absl::StrAppend(&out, "trunk_Bps ", r, "\n");
    for (int a = 0; a < r; ++a) AppendRow(t.trunk_Bps.data() + size_t(a) * r, r, &out);
  }
  if (!t.names.empty()) {
    out += "names\n";
    for (const std::string& name : t.names) absl::StrAppend(&out, name, "\n");
  }
  out += "end\n";
  return out;
}

absl::StatusOr<Topology> ParseTopology(const std::string& text) { return Parser(text).Parse(); }

}  // namespace meridian::planner
