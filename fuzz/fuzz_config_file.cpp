// Configuration files (load_config_text): YAML or JSON in llmsvc's, llm.yaml's or LiteLLM's
// layout, environment references resolved, then checked by parse_config. What it accepts is
// a configuration parse_config accepts too. Inputs that name files (prices_file, a SQLite
// cache) are skipped: the fuzzer reads and creates no files.
#include <cstdlib>
#include <string>

#include "core/config.h"
#include "core/config_file.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  for (const char *name : {"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
                           "ANTHROPIC_BASE_URL", "OLLAMA_HOST"})
    unsetenv(name);
  setenv("LLMSVC_FUZZ_KEY", "sk-fuzz", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(fuzz::view(data, size));
  if (text.find("prices_file") != std::string::npos || text.find("sqlite") != std::string::npos)
    return 0;
  llmsvc::LoadedConfig loaded;
  llmsvc::DocError err = llmsvc::load_config_text(text, "fuzz.yaml", loaded);
  // The environment's value may be quoted back only where the file itself holds it.
  const bool secret_in_file = text.find("sk-fuzz") != std::string::npos;
  if (err) {
    FUZZ_CHECK(err.message.rfind("fuzz.yaml", 0) == 0);  // every error says where
    FUZZ_CHECK(secret_in_file || err.message.find("sk-fuzz") == std::string::npos);
    return 0;
  }
  llmsvc::Config config;
  FUZZ_CHECK(!llmsvc::parse_config(loaded.json.c_str(), config));
  for (const std::string &w : loaded.warnings)
    FUZZ_CHECK(secret_in_file || w.find("sk-fuzz") == std::string::npos);
  return 0;
}
