// One line of the results file, made from the library's result document.
#pragma once

#include <cstdint>
#include <string>

namespace llmsvc_cli {

/// What the run's counters need to know about one result.
struct ResultInfo {
  bool keep = true;  // false for cancelled and shut-down requests: they run again on resume
  bool ok = false;
  std::string kind;  // the error kind, "" on success
  bool cache_hit = false;
  bool saved_known = true;  // the cache hit's saved cost is known
  int64_t saved_nano_usd = 0;
};

/// The compact result line for request `id_json` from input line `line`, from the result
/// document `json` (llmsvc_result_json). `attempts_full` adds every attempt's details.
std::string result_line(const std::string &id_json, uint64_t line, const char *json, size_t len,
                        bool attempts_full, ResultInfo *info);

/// The result line of an input line that was never sent.
std::string invalid_line(const std::string &id_json, uint64_t line, const std::string &message);

}  // namespace llmsvc_cli
