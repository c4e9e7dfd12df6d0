#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace meridian {
namespace {

std::atomic<int> g_rank{-1};

LogLevel LevelFromEnv() {
  const char* v = std::getenv("MERIDIAN_LOG_LEVEL");
  if (v == nullptr) return LogLevel::kWarn;
  if (!strcmp(v, "error")) return LogLevel::kError;
  if (!strcmp(v, "info")) return LogLevel::kInfo;
  if (!strcmp(v, "debug")) return LogLevel::kDebug;
  return LogLevel::kWarn;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "ERROR";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kDebug: return "DEBUG";
  }
  return "?";
}

}  // namespace

bool LogEnabled(LogLevel level) {
  static const LogLevel threshold = LevelFromEnv();
  return static_cast<int>(level) <= static_cast<int>(threshold);
}

void SetLogRank(int rank) { g_rank.store(rank); }

void LogWrite(LogLevel level, const char* file, int line, const std::string& msg) {
  const char* base = strrchr(file, '/');
  base = base ? base + 1 : file;
  // One fprintf per line so lines of concurrent threads do not interleave.
  std::fprintf(stderr, "meridian %s pid %d rank %d %s:%d: %s\n", LevelName(level),
               static_cast<int>(getpid()), g_rank.load(), base, line, msg.c_str());
}

}  // namespace meridian
