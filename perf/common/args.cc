#include "perf/common/args.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "perf/common/datatype.h"

namespace meridian::perf {
namespace {

bool ParseInt(const std::string& text, long min, long max, int* value_p) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) return false;
  *value_p = static_cast<int>(value);
  return true;
}

bool ParseBool(const std::string& text, bool* value_p) {
  int value;
  if (!ParseInt(text, 0, 1, &value)) return false;
  *value_p = value != 0;
  return true;
}

// One flag: the key Apply() knows it by, its short spelling (none when
// has_short is false) and its long one.  Every flag but -h takes a value.
struct Flag {
  char key;
  bool has_short;
  const char* long_name;
};

constexpr Flag kFlags[] = {
    {'b', true, "minbytes"},  {'e', true, "maxbytes"},
    {'i', true, "stepbytes"}, {'f', true, "stepfactor"},
    {'n', true, "iters"},     {'w', true, "warmup_iters"},
    {'c', true, "check"},     {'d', true, "datatype"},
    {'o', true, "op"},        {'r', true, "root"},
    {'z', true, "blocking"},  {'J', false, "json"},
};

// Applies one flag's value; false when the value is not acceptable.
bool Apply(char flag, const std::string& value, Options* o) {
  switch (flag) {
    case 'b':
      return ParseSize(value, &o->min_bytes);
    case 'e':
      return ParseSize(value, &o->max_bytes);
    case 'i':
      return ParseSize(value, &o->step_bytes);
    case 'f': {
      int factor;
      if (!ParseInt(value, 1, 1 << 20, &factor)) return false;
      o->step_factor = static_cast<size_t>(factor);
      return true;
    }
    case 'n':
      return ParseInt(value, 1, INT_MAX, &o->iters);
    case 'w':
      return ParseInt(value, 0, INT_MAX, &o->warmup_iters);
    case 'c':
      return ParseBool(value, &o->check);
    case 'd':
      return ParseDataTypes(value, &o->types);
    case 'o':
      return ParseRedOps(value, &o->ops);
    case 'r':
      if (value == "all") {
        o->root = -1;
        return true;
      }
      return ParseInt(value, -1, INT_MAX, &o->root);
    case 'z':
      return ParseBool(value, &o->blocking);
    case 'J':
      o->json_path = value;
      return !value.empty();
    default:
      return false;
  }
}

}  // namespace

bool ParseSize(const std::string& text, size_t* bytes_p) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long number = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0) return false;
  unsigned shift = 0;
  switch (*end) {
    case 'k':
    case 'K':
      shift = 10;
      ++end;
      break;
    case 'm':
    case 'M':
      shift = 20;
      ++end;
      break;
    case 'g':
    case 'G':
      shift = 30;
      ++end;
      break;
    default:
      break;
  }
  if (*end == 'b' || *end == 'B') ++end;
  if (*end != '\0') return false;
  if (number > (static_cast<unsigned long long>(SIZE_MAX) >> shift))
    return false;
  *bytes_p = static_cast<size_t>(number << shift);
  return true;
}

ParseOutcome ParseArgs(int argc, const char* const* argv, Options* options_p,
                       std::string* error_p) {
  Options o = *options_p;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "-h" || arg == "--help") return ParseOutcome::kHelp;
    // Accepted spellings: -b 8, -b8, --minbytes 8, --minbytes=8.
    const Flag* flag = nullptr;
    std::string value;
    bool has_value = false;
    for (const Flag& f : kFlags) {
      const std::string long_form = std::string("--") + f.long_name;
      if (f.has_short && arg.size() >= 2 && arg[0] == '-' && arg[1] == f.key) {
        flag = &f;
        has_value = arg.size() > 2;
        if (has_value) value = arg.substr(2);
      } else if (arg == long_form) {
        flag = &f;
      } else if (arg.compare(0, long_form.size() + 1, long_form + "=") == 0) {
        flag = &f;
        has_value = true;
        value = arg.substr(long_form.size() + 1);
      }
      if (flag) break;
    }
    if (!flag) {
      *error_p = "unknown argument '" + arg + "'";
      return ParseOutcome::kError;
    }
    if (!has_value) {
      if (a + 1 >= argc) {
        *error_p = "missing value after '" + arg + "'";
        return ParseOutcome::kError;
      }
      value = argv[++a];
    }
    if (!Apply(flag->key, value, &o)) {
      *error_p = "bad value '" + value + "' for " + arg;
      return ParseOutcome::kError;
    }
  }
  if (o.min_bytes > o.max_bytes) {
    *error_p = "minbytes (-b) is larger than maxbytes (-e)";
    return ParseOutcome::kError;
  }
  if (o.min_bytes < o.max_bytes) {
    if (o.step_factor > 1 && o.min_bytes == 0) {
      *error_p = "a step factor (-f) needs minbytes (-b) above 0";
      return ParseOutcome::kError;
    }
    if (o.step_factor <= 1 && o.step_bytes == 0) {
      *error_p = "stepbytes (-i) must be above 0";
      return ParseOutcome::kError;
    }
  }
  *options_p = o;
  return ParseOutcome::kRun;
}

std::vector<size_t> SizeSweep(const Options& options) {
  std::vector<size_t> sizes;
  size_t size = options.min_bytes;
  while (size <= options.max_bytes) {
    sizes.push_back(size);
    const size_t next = options.step_factor > 1 ? size * options.step_factor
                                                : size + options.step_bytes;
    // Stop on overflow, or when the step cannot move (min == max).
    if (next <= size ||
        (options.step_factor > 1 && next / options.step_factor != size))
      break;
    size = next;
  }
  return sizes;
}

void PrintUsage(FILE* out, const char* program) {
  std::fprintf(
      out,
      "USAGE: meridian-run -n NRANKS -- %s [options]\n"
      "  -b, --minbytes <size>      smallest size to run (K/M/G suffixes). "
      "Default 32M\n"
      "  -e, --maxbytes <size>      largest size to run. Default 32M\n"
      "  -i, --stepbytes <size>     size increment when no factor is set. "
      "Default 1M\n"
      "  -f, --stepfactor <n>       size multiplication factor; disabled by "
      "default\n"
      "  -n, --iters <n>            timed iterations. Default 20\n"
      "  -w, --warmup_iters <n>     warmup iterations before each measurement. "
      "Default 5\n"
      "  -c, --check <0/1>          check results (and count #wrong). Default "
      "1\n"
      "  -d, --datatype <type>      int8 uint8 int32 uint32 int64 uint64 half "
      "float\n"
      "                             double bfloat16 all. Default float\n"
      "  -o, --op <op>              sum prod max min avg all. Default sum\n"
      "  -r, --root <rank|all>      root of broadcast and reduce. Default 0\n"
      "  -z, --blocking <0/1>       1: wait for each operation; 0: issue all "
      "timed\n"
      "                             iterations asynchronously, then wait. "
      "Default 0\n"
      "      --json <file>          rank 0 also writes the results as JSON to "
      "<file>\n"
      "  -h, --help                 this text\n"
      "The communicator comes from the environment (MERIDIAN_COORDINATOR,\n"
      "MERIDIAN_WORLD_SIZE, MERIDIAN_RANK, ...), as meridian-run sets it.\n",
      program);
}

}  // namespace meridian::perf
