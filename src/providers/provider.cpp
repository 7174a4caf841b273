#include "providers/anthropic.h"
#include "providers/openai_chat.h"

namespace llmsvc {

std::unique_ptr<Provider> make_provider(const Config &config) {
  if (config.provider == "anthropic") return std::make_unique<AnthropicProvider>(config);
  return std::make_unique<OpenAIChatProvider>(config);
}

}  // namespace llmsvc
