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

/// Standard base64 of `v` as little-endian float32 values (the response cache keeps
/// vectors so).
std::string encode_float32_base64(const std::vector<float> &v);
/// Decodes standard base64 of little-endian float32 values; false when it is not that.
bool decode_float32_base64(std::string_view text, std::vector<float> &out);

}  // namespace llmsvc
