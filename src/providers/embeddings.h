// Embeddings in OpenAI's wire shape (POST {base_url}/embeddings, also Azure OpenAI's
// deployments and every OpenAI-compatible server): the request body and the reply's
// vectors, asked for and read as base64 (little-endian float32, what the official SDKs
// ask for: a quarter of the text of decimal numbers, and no number parsing).
#pragma once

#include <string>
#include <string_view>

#include "providers/provider.h"

namespace llmsvc {

/// {"model", "input" (as given), "encoding_format": "base64", "dimensions"?, "user"?}.
void build_openai_embeddings_body(const RequestSpec &req, JsonBuffer &out);

/// Reads {"data": [{"index", "embedding"}...], "model", "usage"} into `out.embeddings` (in
/// index order; base64 or a list of numbers) and its usage; false with `error`.
bool parse_openai_embeddings(const JsonValue &doc, ProviderReply &out, std::string &error);

/// A JSON list of numbers (embedding `i`) into `out`; false with `error`.
bool read_float_list(const JsonValue &list, size_t i, std::vector<float> &out,
                     std::string &error);

/// The texts of an embeddings request's input (a string or a list of strings); false
/// when it holds token ids, which only OpenAI's endpoint takes.
bool embedding_texts(const RequestSpec &req, std::vector<std::string> &out);

/// Ollama's POST /api/embed: {"model", "input" (as given), "dimensions"?}; the reply
/// {"embeddings": [[...]...], "prompt_eval_count"} (its usage).
void build_ollama_embeddings_body(const RequestSpec &req, JsonBuffer &out);
bool parse_ollama_embeddings(const JsonValue &doc, ProviderReply &out, std::string &error);

/// Gemini's POST models/{model}:batchEmbedContents (one request per input, each naming
/// "models/{model}", outputDimensionality from dimensions); the reply {"embeddings":
/// [{"values": [...]}...], "usageMetadata"?}.
void build_gemini_embeddings_body(const RequestSpec &req, std::string_view model,
                                  JsonBuffer &out);
bool parse_gemini_embeddings(const JsonValue &doc, ProviderReply &out, std::string &error);

/// Standard base64 of `v` as little-endian float32 values (the response cache keeps
/// vectors so).
std::string encode_float32_base64(const std::vector<float> &v);
/// Decodes standard base64 of little-endian float32 values; false when it is not that.
bool decode_float32_base64(std::string_view text, std::vector<float> &out);

}  // namespace llmsvc
