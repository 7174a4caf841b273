// The configuration parser (parse_config) and the provider it names. The fuzzer must not
// read or create files: a document naming a prices_file is skipped (the price loader has
// its own target, fuzz_prices), and a cache.sqlite path is only parsed, never opened.
// The environment fallbacks (OPENAI_BASE_URL, ...) are cleared so that runs repeat.
#include <cstdlib>
#include <string>

#include "common/json.h"
#include "core/config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  for (const char *name : {"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
                           "ANTHROPIC_BASE_URL", "OLLAMA_HOST"})
    unsetenv(name);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // parse_config takes a C string: what follows a NUL is not part of the document.
  std::string text(fuzz::view(data, size));
  text.resize(std::strlen(text.c_str()));
  {
    llmsvc::JsonDoc doc;
    if (!llmsvc::parse_json(doc, text, "config") && doc.IsObject()) {
      for (const auto &m : doc.GetObject())
        if (llmsvc::sv(m.name) == "prices_file") return 0;
    }
  }
  llmsvc::Config config;
  if (llmsvc::parse_config(text.c_str(), config)) return 0;
  FUZZ_CHECK(config.base_url.rfind("http", 0) == 0);
  auto provider = llmsvc::make_provider(config);
  FUZZ_CHECK(provider && !provider->url().empty() && provider->headers());
  // Every deployment is a configuration of its own that a provider can be made from, under
  // a name no other deployment has.
  for (size_t i = 0; i < config.deployments.size(); ++i) {
    const llmsvc::DeploymentSpec &d = config.deployments[i];
    FUZZ_CHECK(!d.name.empty() && d.config.deployments.empty());
    FUZZ_CHECK(d.config.base_url.rfind("http", 0) == 0);
    for (size_t j = 0; j < i; ++j) FUZZ_CHECK(config.deployments[j].name != d.name);
    auto p = llmsvc::make_provider(d.config);
    FUZZ_CHECK(p && !p->url().empty() && p->headers());
  }
  return 0;
}
