// Configuration files: YAML (or JSON, which YAML reads too) in llmsvc's own layout, the
// `llm.yaml` key-pool layout of the module llmsvc replaces, or LiteLLM's `config.yaml`;
// environment references resolved; the result is llmsvc's configuration document (JSON),
// checked by parse_config. Errors name the file, line and column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"

namespace llmsvc {

struct LoadedConfig {
  std::string json;                   // llmsvc's configuration document
  std::vector<std::string> warnings;  // what a foreign layout has that llmsvc does not use
  std::string layout;                 // "llmsvc", "llm.yaml" or "litellm"
  std::vector<std::string> taken;     // while loading: the values read from the environment
};

/// Loads `text`, the contents of the file `name` (for messages), into `out`.
DocError load_config_text(std::string_view text, const std::string &name, LoadedConfig &out);

/// Reads the file at `path` and loads it (load_config_text).
DocError load_config_file(const std::string &path, LoadedConfig &out);

/// Resolves environment references in `s`: ${NAME}, ${NAME:-default} anywhere in it, $${
/// for a literal ${, and LiteLLM's os.environ/NAME as the whole string. False with `error`
/// naming the variable when one is not set (and has no default); the value itself never
/// appears in `error`.
bool resolve_env(std::string &s, std::string &error, std::vector<std::string> *taken = nullptr);
/// (`taken`, when given, receives each value read from the environment.)

}  // namespace llmsvc
