// Minimal leveled logging to stderr.  MERIDIAN_LOG_LEVEL=error|warn|info|debug
// (default warn).  Each line carries the process id and, when known, the rank.
#ifndef MERIDIAN_BASE_LOG_H_
#define MERIDIAN_BASE_LOG_H_

#include <sstream>

namespace meridian {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

bool LogEnabled(LogLevel level);
void LogWrite(LogLevel level, const char* file, int line, const std::string& msg);
// Rank shown in log lines of this process (-1: unknown).
void SetLogRank(int rank);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line)
      : level_(level), file_(file), line_(line) {}
  ~LogMessage() { LogWrite(level_, file_, line_, stream_.str()); }
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

}  // namespace meridian

#define MDN_LOG(level)                                                   \
  if (!::meridian::LogEnabled(::meridian::LogLevel::k##level)) {         \
  } else                                                                 \
    ::meridian::LogMessage(::meridian::LogLevel::k##level, __FILE__,     \
                           __LINE__)                                     \
        .stream()

#endif  // MERIDIAN_BASE_LOG_H_
