// Tokens as a provider's rate limiter counts them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmsvc {

/// OpenAI counts one total (tpm); Anthropic also counts input (cache reads excluded) and
/// output separately (itpm, otpm).
struct Tokens {
  int64_t input = 0;
  int64_t output = 0;
  int64_t total() const { return input + output; }
};

/// The deterministic token estimate OpenAI-style limiters use: ceil(UTF-8 bytes / 4).
inline int64_t text_tokens(size_t bytes) { return int64_t((bytes + 3) / 4); }

}  // namespace llmsvc
