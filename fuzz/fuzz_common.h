// Shared by the fuzz targets: the providers as a client would configure them, and a check
// that aborts with a message (libFuzzer then keeps the input as a crash).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "providers/provider.h"

namespace fuzz {

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

inline std::string_view view(const uint8_t *data, size_t size) {
  return {reinterpret_cast<const char *>(data), size};
}

/// A provider of the given wire format on a local address, with a key, as configured.
inline std::unique_ptr<llmsvc::Provider> provider(const char *name) {
  llmsvc::Config c;
  c.provider = name;
  c.base_url = "http://127.0.0.1:9/v1";
  c.api_key = "sk-fuzz";
  c.aws_region = "us-east-1";  // Bedrock signs with these instead of the key
  c.aws_access_key_id = "AKIDFUZZ";
  c.aws_secret_access_key = "fuzz-secret";
  return llmsvc::make_provider(c);
}

inline constexpr std::array<const char *, 6> kProviders = {
    "openai_chat", "openai_responses", "anthropic", "ollama", "gemini", "bedrock"};

}  // namespace fuzz
