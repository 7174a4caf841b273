#include "providers/anthropic.h"
#include "providers/ollama.h"
#include "providers/openai_chat.h"
#include "providers/openai_responses.h"

namespace llmsvc {

std::unique_ptr<Provider> make_provider(const Config &config) {
  if (config.provider == "anthropic") return std::make_unique<AnthropicProvider>(config);
  if (config.provider == "ollama") return std::make_unique<OllamaProvider>(config);
  if (config.provider == "openai_responses")
    return std::make_unique<OpenAIResponsesProvider>(config);
  return std::make_unique<OpenAIChatProvider>(config);
}

}  // namespace llmsvc
