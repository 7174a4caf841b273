#include "providers/ollama.h"

#include <curl/curl.h>

#include "providers/embeddings.h"
#include "providers/fields.h"

namespace llmsvc {

OllamaProvider::OllamaProvider(const Config &config)
    : url_(config.base_url + "/api/chat"), embed_url_(config.base_url + "/api/embed") {
  try {
    append_header(headers_, "Content-Type: application/json");
    append_header(headers_, "Expect:");
    // Ollama needs no key; one given is sent, for servers behind an authenticating proxy.
    if (!config.api_key.empty()) append_header(headers_, "Authorization: Bearer " + config.api_key);
    append_config_headers(headers_, config);
  } catch (...) {
    curl_slist_free_all(headers_);
    throw;
  }
}

OllamaProvider::~OllamaProvider() { curl_slist_free_all(headers_); }

namespace {
constexpr std::string_view kBase64Marker = ";base64,";
}

std::string OllamaProvider::unsupported(const RequestSpec &req) const {
  if (req.embedding) {
    std::vector<std::string> texts;
    if (!embedding_texts(req, texts)) return "input: Ollama embeds text, not token ids";
    if (!req.user.empty()) return "user is not an Ollama parameter";
    return {};
  }
  if (!req.previous_response_id.empty()) return "previous_response_id is not an Ollama parameter";
  if (!req.reasoning_effort.empty()) return "reasoning_effort is not an Ollama parameter";
  if (has_audio(req)) return "Ollama's chat API takes no audio input";
  if (!req.logit_bias_json.empty()) return "logit_bias is not an Ollama parameter";
  if (req.n > 1) return "Ollama makes one answer per request (n above 1)";
  if (req.logprobs) return "Ollama's chat API returns no log probabilities";
  if (!req.service_tier.empty()) return "service_tier is not an Ollama parameter";
  if (!req.prompt_cache_key.empty()) return "prompt_cache_key is not an Ollama parameter";
  if (req.tool_choice == ToolChoice::kRequired || req.tool_choice == ToolChoice::kNamed)
    return "Ollama cannot be made to call a tool (tool_choice required or named)";
  if (req.parallel_tool_calls) return "parallel_tool_calls is not an Ollama parameter";
  if (std::string why = arguments_not_objects(req); !why.empty()) return why;
  return images_not_inline(req, "Ollama");
}

void OllamaProvider::build_body(const RequestSpec &req, JsonBuffer &out) const {
  if (req.embedding) return build_ollama_embeddings_body(req, out);
  JsonWriter w(out);
  w.StartObject();
  w.Key("model");
  write_str(w, req.model);
  w.Key("messages");
  w.StartArray();
  if (!req.instructions.empty()) {
    w.StartObject();
    w.Key("role");
    w.String("system");
    w.Key("content");
    write_str(w, req.instructions);
    w.EndObject();
  }
  for (const Message &m : req.messages) {
    w.StartObject();
    w.Key("role");
    write_str(w, m.role == "developer" ? std::string_view("system") : std::string_view(m.role));
    // Ollama takes one text per message and its images beside it.
    std::string text;
    bool images = false;
    for (const ContentPart &p : m.parts) {
      if (p.type == ContentPart::Type::kText) {
        if (!text.empty()) text += "\n";
        text += p.text;
      } else if (p.type == ContentPart::Type::kImageUrl) {
        images = true;
      }
    }
    w.Key("content");
    write_str(w, text);
    if (!m.tool_calls.empty()) {
      w.Key("tool_calls");
      w.StartArray();
      for (const ToolCall &c : m.tool_calls) {
        w.StartObject();
        w.Key("function");
        w.StartObject();
        w.Key("name");
        write_str(w, c.name);
        w.Key("arguments");  // an object here, checked at submit
        if (!write_arguments_object(w, c.arguments)) {
          w.StartObject();
          w.EndObject();
        }
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
    }
    if (m.role == "tool") {  // Ollama knows the call by its tool's name
      for (const Message &earlier : req.messages)
        for (const ToolCall &c : earlier.tool_calls)
          if (c.id == m.tool_call_id) {
            w.Key("tool_name");
            write_str(w, c.name);
          }
    }
    if (images) {
      w.Key("images");
      w.StartArray();
      for (const ContentPart &p : m.parts) {
        if (p.type != ContentPart::Type::kImageUrl) continue;
        write_str(w, std::string_view(p.url).substr(p.url.find(kBase64Marker) + kBase64Marker.size()));
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("stream");  // Ollama streams unless told not to
  w.Bool(req.stream);
  // Ollama takes no tool_choice: "none" is sending no tools, "auto" is its only way.
  if (!req.tools.empty() && req.tool_choice != ToolChoice::kNone) write_openai_tools(w, req, false, false);
  if (req.thinking_budget > 0) {  // Ollama's thinking has no budget: on or off
    w.Key("think");
    w.Bool(true);
  }
  if (req.schema) {
    w.Key("format");
    w.RawValue(req.schema_json.data(), req.schema_json.size(), rapidjson::kObjectType);
  } else if (req.json_mode) {
    w.Key("format");
    w.String("json");
  }
  bool options = req.temperature || req.top_p || req.max_output_tokens > 0 || !req.stop.empty() ||
                 req.seed || req.top_k || req.frequency_penalty || req.presence_penalty;
  if (options) {
    w.Key("options");
    w.StartObject();
    if (req.temperature) {
      w.Key("temperature");
      w.Double(*req.temperature);
    }
    if (req.top_p) {
      w.Key("top_p");
      w.Double(*req.top_p);
    }
    if (req.max_output_tokens > 0) {
      w.Key("num_predict");
      w.Int64(req.max_output_tokens);
    }
    if (!req.stop.empty()) {
      w.Key("stop");
      w.StartArray();
      for (const auto &s : req.stop) write_str(w, s);
      w.EndArray();
    }
    if (req.seed) {
      w.Key("seed");
      w.Int64(*req.seed);
    }
    if (req.top_k) {
      w.Key("top_k");
      w.Int64(*req.top_k);
    }
    if (req.frequency_penalty) {
      w.Key("frequency_penalty");
      w.Double(*req.frequency_penalty);
    }
    if (req.presence_penalty) {
      w.Key("presence_penalty");
      w.Double(*req.presence_penalty);
    }
    w.EndObject();
  }
  w.EndObject();
}

int64_t OllamaProvider::estimate_prompt_tokens(const RequestSpec &req) const {
  if (req.embedding) return req.input_tokens;
  return estimate_with_instructions(req);
}

void OllamaProvider::read_final(const JsonValue &doc, ProviderReply &out) {
  out.model = str_member(doc, "model");
  out.finish_reason = str_member(doc, "done_reason");
  if (!out.tool_calls.empty()) out.finish_reason = "tool_calls";
  if (doc.HasMember("prompt_eval_count") || doc.HasMember("eval_count")) {
    out.has_usage = true;
    bool bad = false;
    out.usage.prompt = int_member(doc, "prompt_eval_count", bad);
    out.usage.completion = int_member(doc, "eval_count", bad);
    out.usage_read(bad);
  }
}

bool OllamaProvider::parse_reply(std::string_view body, ProviderReply &out,
                                 std::string &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, body, "the reply", error)) return false;
  JsonDoc &doc = scratch.doc();
  if (doc.HasMember("embeddings") && !doc.HasMember("message"))
    return parse_ollama_embeddings(doc, out, error);
  auto msg = doc.FindMember("message");
  if (msg == doc.MemberEnd() || !msg->value.IsObject()) {
    error = "the reply has no message";
    return false;
  }
  out.text = str_member(msg->value, "content");
  read_message_extras(msg->value, out, nullptr);
  read_final(doc, out);
  return true;
}

void OllamaProvider::read_message_extras(const JsonValue &msg, ProviderReply &out, StreamState *st) {
  out.thinking += str_member(msg, "thinking");
  const JsonValue *calls = member(msg, "tool_calls");
  if (!calls || !calls->IsArray()) return;
  // Ollama gives calls whole, with arguments as an object and no id: the position names them.
  for (const auto &call : calls->GetArray()) {
    const JsonValue *fn = member(call, "function");
    if (!fn) continue;
    const JsonValue *a = member(*fn, "arguments");
    std::string arguments = a ? json_text(*a) : "{}";
    size_t n = st ? st->call_keys.size() : out.tool_calls.size();
    std::string id = "call_" + std::to_string(n);
    if (st) st->tool_piece(int64_t(n), id, str_member(*fn, "name"), arguments);
    else out.tool_calls.push_back({std::move(id), str_member(*fn, "name"), std::move(arguments)});
  }
}

bool OllamaProvider::on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                                     ProviderError &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, ev.data, "a stream line", error.message)) return false;
  JsonDoc &doc = scratch.doc();
  if (doc.HasMember("error")) {
    parse_error_object(ev.data, error);
    error.type = "server_error";
    return false;
  }
  auto msg = doc.FindMember("message");
  if (msg != doc.MemberEnd()) {
    delta = str_member(msg->value, "content");
    read_message_extras(msg->value, st.reply, &st);
  }
  auto done = doc.FindMember("done");
  if (done != doc.MemberEnd() && done->value.IsBool() && done->value.GetBool()) {
    read_final(doc, st.reply);
    st.done = true;
  }
  return true;
}

ProviderError OllamaProvider::parse_error(std::string_view body) const {
  ProviderError e;
  parse_error_object(body, e);  // {"error": "model \"x\" not found, try pulling it first"}
  return e;
}

void OllamaProvider::read_header(std::string_view name, std::string_view value,
                                 int64_t wall_now_ms, ResponseHeaders &out) const {
  read_retry_header(name, value, wall_now_ms, out);  // a proxy in front may send these
}

}  // namespace llmsvc
