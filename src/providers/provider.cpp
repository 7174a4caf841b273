#include "providers/anthropic.h"
#include "providers/embeddings.h"
#include "providers/bedrock.h"
#include "providers/gemini.h"
#include "providers/ollama.h"
#include "providers/openai_chat.h"
#include "providers/openai_responses.h"

namespace llmsvc {

std::unique_ptr<Provider> make_provider(const Config &config) {
  if (config.provider == "anthropic") return std::make_unique<AnthropicProvider>(config);
  if (config.provider == "ollama") return std::make_unique<OllamaProvider>(config);
  if (config.provider == "gemini") return std::make_unique<GeminiProvider>(config);
  if (config.provider == "bedrock") return std::make_unique<BedrockProvider>(config);
  if (config.provider == "openai_responses")
    return std::make_unique<OpenAIResponsesProvider>(config);
  if (config.provider == "azure_openai")
    return std::make_unique<OpenAIChatProvider>(config, OpenAIChatProvider::Azure{});
  return std::make_unique<OpenAIChatProvider>(config);
}

void StreamState::tool_piece(int64_t key, std::string_view id, std::string_view name,
                             std::string_view arguments) {
  size_t i = 0;
  while (i < call_keys.size() && call_keys[i] != key) ++i;
  const bool fresh = i == call_keys.size();
  if (fresh) {
    if (call_keys.size() >= kMaxStreamedCalls) return;  // a reply of a thousand calls is not one
    call_keys.push_back(key);
    reply.tool_calls.emplace_back();
  }
  ToolCall &c = reply.tool_calls[i];
  ToolPiece piece;
  piece.index = i;
  if (c.id.empty() && !id.empty()) piece.id = c.id = std::string(id);
  if (c.name.empty() && !name.empty()) piece.name = c.name = std::string(name);
  c.arguments.append(arguments);
  piece.arguments = std::string(arguments);
  if (fresh || !piece.id.empty() || !piece.name.empty() || !piece.arguments.empty())
    tool_pieces.push_back(std::move(piece));
}

void take_schema_call(ProviderReply &reply, const std::string &schema_name) {
  for (auto it = reply.tool_calls.begin(); it != reply.tool_calls.end(); ++it) {
    if (it->name != schema_name) continue;
    reply.text = std::move(it->arguments);
    reply.tool_calls.erase(it);
    if (reply.tool_calls.empty() && reply.finish_reason == "tool_calls") reply.finish_reason = "stop";
    return;
  }
}

namespace {

void write_calls(JsonWriter &w, const std::vector<ToolCall> &calls) {
  w.StartArray();
  for (const ToolCall &c : calls) {
    w.StartArray();
    write_str(w, c.id);
    write_str(w, c.name);
    write_str(w, c.arguments);
    w.EndArray();
  }
  w.EndArray();
}

bool read_calls(const JsonValue &v, std::vector<ToolCall> &out) {
  if (!v.IsArray()) return false;
  for (const auto &c : v.GetArray()) {
    if (!c.IsArray() || c.Size() != 3 || !c[0].IsString() || !c[1].IsString() || !c[2].IsString())
      return false;
    out.push_back({std::string(sv(c[0])), std::string(sv(c[1])), std::string(sv(c[2]))});
  }
  return true;
}

}  // namespace

std::string encode_reply_extras(const ProviderReply &r) {
  if (r.tool_calls.empty() && r.logprobs_json.empty() && r.choices.empty() &&
      r.service_tier.empty() && r.thinking.empty() && r.thinking_signature.empty() &&
      r.embeddings.empty())
    return {};
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (!r.tool_calls.empty()) {
    w.Key("tool_calls");
    write_calls(w, r.tool_calls);
  }
  if (!r.logprobs_json.empty()) {
    w.Key("logprobs");
    w.RawValue(r.logprobs_json.data(), r.logprobs_json.size(), rapidjson::kArrayType);
  }
  if (!r.choices.empty()) {
    w.Key("choices");
    w.StartArray();
    for (const ReplyChoice &c : r.choices) {
      w.StartObject();
      w.Key("text");
      write_str(w, c.text);
      w.Key("finish_reason");
      write_str(w, c.finish_reason);
      w.Key("tool_calls");
      write_calls(w, c.tool_calls);
      if (!c.logprobs_json.empty()) {
        w.Key("logprobs");
        w.RawValue(c.logprobs_json.data(), c.logprobs_json.size(), rapidjson::kArrayType);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  write_opt_str(w, "service_tier", r.service_tier);
  write_opt_str(w, "thinking", r.thinking);
  write_opt_str(w, "thinking_signature", r.thinking_signature);
  if (!r.embeddings.empty()) {  // as base64 of float32: exact, and a quarter of decimal text
    w.Key("embeddings");
    w.StartArray();
    for (const std::vector<float> &v : r.embeddings) write_str(w, encode_float32_base64(v));
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool decode_reply_extras(std::string_view json, ProviderReply &r) {
  if (json.empty()) return true;
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  if (parse_json(doc, json, "reply extras") || !doc.IsObject()) return false;
  for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
    std::string_view name = sv(m->name);
    const JsonValue &v = m->value;
    if (name == "embeddings") {
      if (!v.IsArray()) return false;
      for (const auto &e : v.GetArray())
        if (!e.IsString() ||
            !decode_float32_base64({e.GetString(), e.GetStringLength()}, r.embeddings.emplace_back()))
          return false;
    } else if (name == "tool_calls") {
      if (!read_calls(v, r.tool_calls)) return false;
    } else if (name == "logprobs") {
      if (!v.IsArray()) return false;
      r.logprobs_json = json_text(v);
    } else if (name == "choices") {
      if (!v.IsArray()) return false;
      for (const auto &c : v.GetArray()) {
        if (!c.IsObject()) return false;
        ReplyChoice &out = r.choices.emplace_back();
        auto text = c.FindMember("text"), finish = c.FindMember("finish_reason"),
             calls = c.FindMember("tool_calls"), lp = c.FindMember("logprobs");
        if (text == c.MemberEnd() || !text->value.IsString() || finish == c.MemberEnd() ||
            !finish->value.IsString() || calls == c.MemberEnd() || !read_calls(calls->value, out.tool_calls))
          return false;
        out.text = std::string(sv(text->value));
        out.finish_reason = std::string(sv(finish->value));
        if (lp != c.MemberEnd()) {
          if (!lp->value.IsArray()) return false;
          out.logprobs_json = json_text(lp->value);
        }
      }
    } else if (v.IsString() && name == "service_tier") {
      r.service_tier = std::string(sv(v));
    } else if (v.IsString() && name == "thinking") {
      r.thinking = std::string(sv(v));
    } else if (v.IsString() && name == "thinking_signature") {
      r.thinking_signature = std::string(sv(v));
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace llmsvc
