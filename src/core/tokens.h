// Tokens as a provider's rate limiter counts them.
#pragma once

#include <cstdint>

namespace llmsvc {

/// OpenAI counts one total (tpm); Anthropic also counts input (cache reads excluded) and
/// output separately (itpm, otpm).
struct Tokens {
  int64_t input = 0;
  int64_t output = 0;
  int64_t total() const { return input + output; }
};

}  // namespace llmsvc
