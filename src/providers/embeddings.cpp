#include "providers/embeddings.h"

#include <openssl/evp.h>

#include <cstring>

#include "providers/fields.h"

namespace llmsvc {

void build_openai_embeddings_body(const RequestSpec &req, JsonBuffer &out) {
  JsonWriter w(out);
  w.StartObject();
  w.Key("model");
  write_str(w, req.model);
  w.Key("input");
  w.RawValue(req.input_json.data(), req.input_json.size(),
             req.input_json[0] == '"' ? rapidjson::kStringType : rapidjson::kArrayType);
  w.Key("encoding_format");
  w.String("base64");
  if (req.dimensions > 0) {
    w.Key("dimensions");
    w.Int64(req.dimensions);
  }
  if (!req.user.empty()) {
    w.Key("user");
    write_str(w, req.user);
  }
  w.EndObject();
}

std::string encode_float32_base64(const std::vector<float> &v) {
  std::string raw(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t x;
    std::memcpy(&x, &v[i], sizeof x);
    for (int b = 0; b < 4; ++b) raw[4 * i + size_t(b)] = char((x >> (8 * b)) & 0xff);
  }
  std::string out((raw.size() + 2) / 3 * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                          reinterpret_cast<const unsigned char *>(raw.data()), int(raw.size()));
  out.resize(size_t(n > 0 ? n : 0));
  return out;
}

bool decode_float32_base64(std::string_view text, std::vector<float> &out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  const size_t bytes = text.size() / 4 * 3 - pad;
  if (bytes % 4 != 0) return false;
  std::string raw(text.size() / 4 * 3, '\0');
  // OpenSSL's decoder (libcrypto, already linked): it refuses characters outside the
  // alphabet and counts the padding as bytes, which `bytes` leaves out.
  if (!text.empty() &&
      EVP_DecodeBlock(reinterpret_cast<unsigned char *>(raw.data()),
                      reinterpret_cast<const unsigned char *>(text.data()), int(text.size())) < 0)
    return false;
  out.resize(bytes / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    const unsigned char *b = reinterpret_cast<const unsigned char *>(raw.data()) + 4 * i;
    uint32_t v = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    std::memcpy(&out[i], &v, sizeof v);
  }
  return true;
}

bool read_float_list(const JsonValue &list, size_t i, std::vector<float> &out,
                     std::string &error) {
  out.clear();
  if (!list.IsArray()) {
    error = "embedding " + std::to_string(i) + " is not a list of numbers";
    return false;
  }
  out.reserve(list.Size());
  for (const JsonValue &x : list.GetArray()) {
    if (!x.IsNumber()) {
      error = "embedding " + std::to_string(i) + " holds something other than numbers";
      return false;
    }
    out.push_back(float(x.GetDouble()));
  }
  return true;
}

bool embedding_texts(const RequestSpec &req, std::vector<std::string> &out) {
  out.clear();
  JsonDoc doc;
  doc.Parse(req.input_json.data(), req.input_json.size());
  if (doc.HasParseError()) return false;
  if (doc.IsString()) {
    out.emplace_back(sv(doc));
    return true;
  }
  if (!doc.IsArray()) return false;
  for (const JsonValue &v : doc.GetArray()) {
    if (!v.IsString()) return false;  // token ids
    out.emplace_back(sv(v));
  }
  return true;
}

void build_ollama_embeddings_body(const RequestSpec &req, JsonBuffer &out) {
  JsonWriter w(out);
  w.StartObject();
  w.Key("model");
  write_str(w, req.model);
  w.Key("input");  // a string or a list of strings, as given (unsupported() refused ids)
  w.RawValue(req.input_json.data(), req.input_json.size(),
             req.input_json[0] == '"' ? rapidjson::kStringType : rapidjson::kArrayType);
  if (req.dimensions > 0) {
    w.Key("dimensions");
    w.Int64(req.dimensions);
  }
  w.EndObject();
}

bool parse_ollama_embeddings(const JsonValue &doc, ProviderReply &out, std::string &error) {
  const JsonValue *list = member(doc, "embeddings");
  if (!list || !list->IsArray() || list->Empty()) {
    error = "the reply has no embeddings";
    return false;
  }
  out.embeddings.assign(list->Size(), {});
  for (size_t i = 0; i < out.embeddings.size(); ++i)
    if (!read_float_list((*list)[rapidjson::SizeType(i)], i, out.embeddings[i], error)) return false;
  out.model = str_member(doc, "model");
  out.finish_reason = "stop";
  if (member(doc, "prompt_eval_count")) {
    bool bad = false;
    out.has_usage = true;
    out.usage.prompt = int_member(doc, "prompt_eval_count", bad);
    out.usage_read(bad);
  }
  return true;
}

void build_gemini_embeddings_body(const RequestSpec &req, std::string_view model,
                                  JsonBuffer &out) {
  std::vector<std::string> texts;
  embedding_texts(req, texts);
  JsonWriter w(out);
  w.StartObject();
  w.Key("requests");
  w.StartArray();
  for (const std::string &t : texts) {
    w.StartObject();
    w.Key("model");
    write_str(w, "models/" + std::string(model));
    w.Key("content");
    w.StartObject();
    w.Key("parts");
    w.StartArray();
    w.StartObject();
    w.Key("text");
    write_str(w, t);
    w.EndObject();
    w.EndArray();
    w.EndObject();
    if (req.dimensions > 0) {
      w.Key("outputDimensionality");
      w.Int64(req.dimensions);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

bool parse_gemini_embeddings(const JsonValue &doc, ProviderReply &out, std::string &error) {
  const JsonValue *list = member(doc, "embeddings");
  if (!list || !list->IsArray() || list->Empty()) {
    error = "the reply has no embeddings";
    return false;
  }
  out.embeddings.assign(list->Size(), {});
  for (size_t i = 0; i < out.embeddings.size(); ++i) {
    const JsonValue &e = (*list)[rapidjson::SizeType(i)];
    const JsonValue *values = e.IsObject() ? member(e, "values") : nullptr;
    if (!values) {
      error = "embedding " + std::to_string(i) + " has no values";
      return false;
    }
    if (!read_float_list(*values, i, out.embeddings[i], error)) return false;
  }
  out.finish_reason = "stop";
  if (const JsonValue *u = member(doc, "usageMetadata"); u && u->IsObject()) {
    bool bad = false;
    out.has_usage = true;
    out.usage.prompt = int_member(*u, "promptTokenCount", bad);
    out.usage_read(bad);
  }
  return true;
}

bool parse_openai_embeddings(const JsonValue &doc, ProviderReply &out, std::string &error) {
  const JsonValue *data = member(doc, "data");
  if (!data || !data->IsArray() || data->Empty()) {
    error = "the reply has no data (embeddings)";
    return false;
  }
  const size_t n = data->Size();
  out.embeddings.assign(n, {});
  std::vector<bool> seen(n, false);
  for (const JsonValue &item : data->GetArray()) {
    const JsonValue *index = item.IsObject() ? member(item, "index") : nullptr;
    const JsonValue *vec = item.IsObject() ? member(item, "embedding") : nullptr;
    if (!index || !index->IsUint64() || index->GetUint64() >= n || seen[index->GetUint64()] ||
        !vec) {
      error = "the reply's data items are not one embedding per input, indexed 0.." +
              std::to_string(n - 1);
      return false;
    }
    const size_t i = size_t(index->GetUint64());
    seen[i] = true;
    std::vector<float> &v = out.embeddings[i];
    if (vec->IsString()) {
      if (!decode_float32_base64({vec->GetString(), vec->GetStringLength()}, v)) {
        error = "embedding " + std::to_string(i) + " is not base64 of float32 values";
        return false;
      }
    } else if (vec->IsArray()) {
      if (!read_float_list(*vec, i, v, error)) return false;
    } else {
      error = "embedding " + std::to_string(i) + " is neither base64 nor a list of numbers";
      return false;
    }
  }
  out.model = str_member(doc, "model");
  out.finish_reason = "stop";
  if (const JsonValue *u = member(doc, "usage"); u && u->IsObject()) {
    bool bad = false;
    out.has_usage = true;
    out.usage.prompt = int_member(*u, "prompt_tokens", bad);
    out.usage_read(bad);
  }
  return true;
}

}  // namespace llmsvc
