// Prefixes every line of a child's output stream ("[3] ...") and writes
// whole lines only, so that lines of different ranks never mix.
#ifndef MERIDIAN_RUNTIME_TOOLS_LINE_PREFIXER_H_
#define MERIDIAN_RUNTIME_TOOLS_LINE_PREFIXER_H_

#include <cstddef>
#include <string>

namespace meridian::tools {

class LinePrefixer {
 public:
  LinePrefixer(int out_fd, std::string prefix)
      : out_fd_(out_fd), prefix_(std::move(prefix)) {}

  // Writes every line completed by these bytes; keeps the unfinished rest.
  void Feed(const char* data, size_t len);
  // Writes an unfinished last line, with the newline it lacked.
  void Finish();

 private:
  void Emit(const char* line, size_t len);

  int out_fd_;
  std::string prefix_;
  std::string partial_;
};

// write(2) until done; gives up silently when the reader is gone (EPIPE),
// because losing output must not stop the launcher from supervising.
void WriteAll(int fd, const char* data, size_t len);

}  // namespace meridian::tools

#endif  // MERIDIAN_RUNTIME_TOOLS_LINE_PREFIXER_H_
