// Command-line flag parsing shared by the tools (which keep to the standard
// library: meridian-soak uses only the public C API).
#ifndef MERIDIAN_RUNTIME_TOOLS_CLI_FLAG_H_
#define MERIDIAN_RUNTIME_TOOLS_CLI_FLAG_H_

#include <string>

namespace meridian::tools {

// "--name VALUE" or "--name=VALUE" at argv[i]; advances i past what it
// consumed.  False when argv[i] is another flag or the value is missing.
inline bool TakeValue(int argc, char** argv, int& i, const char* name,
                      std::string* value) {
  std::string arg = argv[i];
  std::string prefix = std::string(name) + "=";
  if (arg == name) {
    if (i + 1 >= argc) return false;
    *value = argv[++i];
    return true;
  }
  if (arg.rfind(prefix, 0) == 0) {
    *value = arg.substr(prefix.size());
    return true;
  }
  return false;
}

}  // namespace meridian::tools

#endif  // MERIDIAN_RUNTIME_TOOLS_CLI_FLAG_H_
