#include "providers/anthropic.h"

#include <curl/curl.h>

#include <new>

#include "providers/fields.h"
#include "retry/policy.h"

namespace llmsvc {

AnthropicProvider::AnthropicProvider(const Config &config)
    : url_(config.base_url + "/messages"), default_max_tokens_(config.default_max_output_tokens) {
  try {
    append_header(headers_, "Content-Type: application/json");
    append_header(headers_, "Accept: application/json");
    append_header(headers_, "Expect:");
    append_header(headers_, "anthropic-version: " + config.anthropic_version);
    if (!config.api_key.empty()) append_header(headers_, "x-api-key: " + config.api_key);
    append_config_headers(headers_, config);
  } catch (...) {
    curl_slist_free_all(headers_);
    throw;
  }
}

AnthropicProvider::~AnthropicProvider() { curl_slist_free_all(headers_); }

namespace {

bool is_system(const Message &m) { return m.role == "system" || m.role == "developer"; }

// "data:image/png;base64,AAAA" -> media type and data; false when not a base64 data URL.
bool split_data_url(const std::string &url, std::string_view &media, std::string_view &data) {
  std::string_view u(url);
  if (u.rfind("data:", 0) != 0) return false;
  size_t semi = u.find(";base64,");
  if (semi == std::string_view::npos) return false;
  media = u.substr(5, semi - 5);
  data = u.substr(semi + 8);
  return true;
}

bool supported_media(std::string_view m) {
  return m == "image/jpeg" || m == "image/png" || m == "image/gif" || m == "image/webp";
}

void write_cache_control(JsonWriter &w, const std::string &cache_control) {
  if (cache_control.empty()) return;
  w.Key("cache_control");
  w.RawValue(cache_control.data(), cache_control.size(), rapidjson::kObjectType);
}

void write_text_block(JsonWriter &w, const std::string &text, const std::string &cache_control = {}) {
  w.StartObject();
  w.Key("type");
  w.String("text");
  w.Key("text");
  write_str(w, text);
  write_cache_control(w, cache_control);
  w.EndObject();
}

void write_image_block(JsonWriter &w, const ContentPart &p) {
  w.StartObject();
  w.Key("type");
  w.String("image");
  w.Key("source");
  w.StartObject();
  std::string_view media, data;
  if (split_data_url(p.url, media, data)) {
    w.Key("type");
    w.String("base64");
    w.Key("media_type");
    write_str(w, media);
    w.Key("data");
    write_str(w, data);
  } else {
    w.Key("type");
    w.String("url");
    w.Key("url");
    write_str(w, p.url);
  }
  w.EndObject();
  w.EndObject();
}

// A message's parts as content blocks: text (with its cache breakpoint), images, and an
// earlier turn's thinking with its signature.
void write_blocks(JsonWriter &w, const Message &m) {
  for (const ContentPart &p : m.parts) {
    if (p.type == ContentPart::Type::kText) {
      if (m.content_is_string || !p.text.empty() || !p.cache_control_json.empty())
        write_text_block(w, p.text, p.cache_control_json);
    } else if (p.type == ContentPart::Type::kThinking) {
      w.StartObject();
      w.Key("type");
      w.String("thinking");
      w.Key("thinking");
      write_str(w, p.text);
      w.Key("signature");
      write_str(w, p.data);
      w.EndObject();
    } else {
      write_image_block(w, p);
    }
  }
}

void write_tool_use(JsonWriter &w, const ToolCall &c) {
  w.StartObject();
  w.Key("type");
  w.String("tool_use");
  w.Key("id");
  write_str(w, c.id);
  w.Key("name");
  write_str(w, c.name);
  w.Key("input");
  if (!write_arguments_object(w, c.arguments)) {  // refused at submit; never sent broken
    w.StartObject();
    w.EndObject();
  }
  w.EndObject();
}

void write_tool_result(JsonWriter &w, const Message &m) {
  w.StartObject();
  w.Key("type");
  w.String("tool_result");
  w.Key("tool_use_id");
  write_str(w, m.tool_call_id);
  w.Key("content");
  if (m.content_is_string) {
    write_str(w, m.parts.empty() ? std::string() : m.parts.front().text);
  } else {
    w.StartArray();
    write_blocks(w, m);
    w.EndArray();
  }
  w.EndObject();
}

}  // namespace

std::string AnthropicProvider::unsupported(const RequestSpec &req) const {
  if (!req.previous_response_id.empty())
    return "previous_response_id is an OpenAI Responses feature; Anthropic takes the whole "
           "conversation in messages";
  if (!req.reasoning_effort.empty())
    return "reasoning_effort is not an Anthropic parameter";
  if (req.seed) return "seed is not an Anthropic parameter";
  if (has_audio(req)) return "Anthropic takes no audio input";
  if (req.temperature && *req.temperature > 1.0)
    return "temperature " + std::to_string(*req.temperature) +
           " is above 1, the most Anthropic accepts";
  if (req.frequency_penalty || req.presence_penalty)
    return "frequency_penalty and presence_penalty are not Anthropic parameters";
  if (!req.logit_bias_json.empty()) return "logit_bias is not an Anthropic parameter";
  if (req.n > 1) return "Anthropic makes one answer per request (n above 1)";
  if (req.logprobs) return "Anthropic returns no log probabilities";
  if (req.json_mode)
    return "Anthropic has no JSON mode: give a json_schema (structured output) instead";
  if (!req.service_tier.empty())
    return "service_tier names OpenAI's tiers (auto, default, flex, priority); Anthropic's differ";
  if (!req.prompt_cache_key.empty())
    return "prompt_cache_key is OpenAI's; Anthropic caches at cache_control breakpoints";
  if (req.thinking_budget > 0 && req.thinking_budget >= output_bound(req))
    return "thinking.budget_tokens must be below max_output_tokens (" +
           std::to_string(output_bound(req)) + ")";
  if (req.schema && req.tool_choice == ToolChoice::kNone)
    return "tool_choice none leaves Anthropic no way to give the json_schema answer, which comes "
           "as a tool call";
  if (req.schema && find_tool(req, req.schema_name))
    return "a tool is named like the json_schema (\"" + req.schema_name +
           "\"), which Anthropic receives as a tool too: rename one";
  if (std::string why = arguments_not_objects(req); !why.empty()) return why;
  if (req.thinking_budget > 0 &&
      (req.schema || req.tool_choice == ToolChoice::kRequired || req.tool_choice == ToolChoice::kNamed))
    return "Anthropic takes no thinking while a tool is forced (json_schema, tool_choice required "
           "or named)";
  bool seen_turn = false;
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const Message &m = req.messages[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (is_system(m)) {
      for (const ContentPart &p : m.parts)
        if (p.type != ContentPart::Type::kText)
          return where + ": Anthropic takes only text in system prompts";
      continue;
    }
    if (!seen_turn && m.role != "user")
      return where + ": Anthropic needs the conversation to start with a user message";
    seen_turn = true;
    for (size_t j = 0; j < m.parts.size(); ++j) {
      const ContentPart &p = m.parts[j];
      if (p.type != ContentPart::Type::kImageUrl) continue;
      std::string_view media, data;
      if (split_data_url(p.url, media, data) && !supported_media(media))
        return where + ".content[" + std::to_string(j) + "]: Anthropic takes image/jpeg, " +
               "image/png, image/gif or image/webp, not " + std::string(media);
    }
  }
  if (!seen_turn) return "messages: Anthropic needs at least one user message";
  return {};
}

int64_t AnthropicProvider::output_bound(const RequestSpec &req) const {
  return req.max_output_tokens > 0 ? req.max_output_tokens : default_max_tokens_;
}

void AnthropicProvider::build_body(const RequestSpec &req, JsonBuffer &out) const {
  JsonWriter w(out);
  w.StartObject();
  w.Key("model");
  write_str(w, req.model);
  w.Key("max_tokens");
  w.Int64(output_bound(req));
  if (req.stream) {
    w.Key("stream");
    w.Bool(true);
  }
  // Anthropic takes the system prompt apart from the turns: instructions first, then any
  // system or developer messages, in order; as blocks when one of them is a cache breakpoint.
  bool system_blocks = false;
  std::string system = req.instructions;
  for (const Message &m : req.messages) {
    if (!is_system(m)) continue;
    for (const ContentPart &p : m.parts) {
      system_blocks |= !p.cache_control_json.empty();
      if (!system.empty()) system += "\n\n";
      system += p.text;
    }
  }
  if (system_blocks) {
    w.Key("system");
    w.StartArray();
    if (!req.instructions.empty()) write_text_block(w, req.instructions);
    for (const Message &m : req.messages)
      if (is_system(m))
        for (const ContentPart &p : m.parts) write_text_block(w, p.text, p.cache_control_json);
    w.EndArray();
  } else if (!system.empty()) {
    w.Key("system");
    write_str(w, system);
  }
  w.Key("messages");
  w.StartArray();
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const Message &m = req.messages[i];
    if (is_system(m)) continue;
    w.StartObject();
    w.Key("role");
    if (m.role == "tool") {
      // Tool results go back in one user turn: this message and the tool messages after it.
      w.String("user");
      w.Key("content");
      w.StartArray();
      write_tool_result(w, m);
      while (i + 1 < req.messages.size() && req.messages[i + 1].role == "tool")
        write_tool_result(w, req.messages[++i]);
      w.EndArray();
      w.EndObject();
      continue;
    }
    write_str(w, m.role);
    w.Key("content");
    bool plain = m.content_is_string && m.tool_calls.empty() && m.parts.size() == 1 &&
                 m.parts.front().cache_control_json.empty();
    if (plain) {
      write_str(w, m.parts.front().text);
    } else {
      w.StartArray();
      write_blocks(w, m);
      for (const ToolCall &c : m.tool_calls) write_tool_use(w, c);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  write_sampling(w, req);
  if (!req.stop.empty()) {
    w.Key("stop_sequences");
    w.StartArray();
    for (const auto &s : req.stop) write_str(w, s);
    w.EndArray();
  }
  if (!req.user.empty()) {
    w.Key("metadata");
    w.StartObject();
    w.Key("user_id");
    write_str(w, req.user);
    w.EndObject();
  }
  if (req.top_k) {
    w.Key("top_k");
    w.Int64(*req.top_k);
  }
  if (req.thinking_budget > 0) {
    w.Key("thinking");
    w.StartObject();
    w.Key("type");
    w.String("enabled");
    w.Key("budget_tokens");
    w.Int64(req.thinking_budget);
    w.EndObject();
  }
  if (!req.tools.empty() || req.schema) {
    // Structured output is one more tool whose input is the document.
    w.Key("tools");
    w.StartArray();
    for (const ToolDef &t : req.tools) {
      w.StartObject();
      w.Key("name");
      write_str(w, t.name);
      if (!t.description.empty()) {
        w.Key("description");
        write_str(w, t.description);
      }
      w.Key("input_schema");  // required: a tool without parameters takes an empty object
      if (t.parameters_json.empty()) w.RawValue("{\"type\":\"object\"}", 17, rapidjson::kObjectType);
      else w.RawValue(t.parameters_json.data(), t.parameters_json.size(), rapidjson::kObjectType);
      write_cache_control(w, t.cache_control_json);
      w.EndObject();
    }
    if (req.schema) write_schema_tool(w, req);
    w.EndArray();
    write_tool_choice(w, req);
  }
  w.EndObject();
}

void AnthropicProvider::write_tool_choice(JsonWriter &w, const RequestSpec &req) {
  // Structured output alone forces its tool; beside other tools the model must call one of
  // them (its answer is the schema tool, a tool round any other), unless the request says.
  std::string_view type;
  switch (req.tool_choice) {
    case ToolChoice::kDefault:
      type = !req.schema ? "" : req.tools.empty() ? "tool" : "any";
      break;
    case ToolChoice::kAuto: type = "auto"; break;
    case ToolChoice::kNone: type = "none"; break;
    case ToolChoice::kRequired: type = "any"; break;
    case ToolChoice::kNamed: type = "tool"; break;
  }
  const bool serial = req.parallel_tool_calls && !*req.parallel_tool_calls;
  if (type.empty() && !serial) return;
  if (type.empty()) type = "auto";
  w.Key("tool_choice");
  w.StartObject();
  w.Key("type");
  write_str(w, type);
  if (type == "tool") {
    w.Key("name");
    write_str(w, req.tool_choice == ToolChoice::kNamed ? req.tool_choice_name : req.schema_name);
  }
  if (serial && type != "none") {
    w.Key("disable_parallel_tool_use");
    w.Bool(true);
  }
  w.EndObject();
}

void AnthropicProvider::write_schema_tool(JsonWriter &w, const RequestSpec &req) {
  {
    w.StartObject();
    w.Key("name");
    write_str(w, req.schema_name);
    w.Key("description");
    write_str(w, req.schema_description.empty()
                     ? "Give the answer as this tool's input, which must match its schema."
                     : req.schema_description);
    w.Key("input_schema");
    w.RawValue(req.schema_json.data(), req.schema_json.size(), rapidjson::kObjectType);
    w.EndObject();
  }
}

int64_t AnthropicProvider::estimate_prompt_tokens(const RequestSpec &req) const {
  // The same deterministic estimate as for OpenAI; the system prompt counts as one message.
  constexpr int64_t kPerMessage = 4, kBase = 3;
  auto image = [](const ContentPart &) { return kImageTokensAnthropic; };
  int64_t total = kBase;
  size_t system_bytes = req.instructions.size();
  bool has_system = !req.instructions.empty();
  for (const Message &m : req.messages) {
    if (is_system(m)) {
      for (const ContentPart &p : m.parts) {
        system_bytes += p.text.size() + (has_system ? 2 : 0);
        has_system = true;
      }
      continue;
    }
    total += kPerMessage + tool_call_tokens(m);
    for (const ContentPart &p : m.parts)
      total += part_tokens(p, image);
  }
  total += tool_tokens(req);
  if (req.schema) total += 8 + text_tokens(req.schema_name.size() + req.schema_json.size());
  if (has_system) total += kPerMessage + text_tokens(system_bytes);
  return total;
}

Tokens AnthropicProvider::metered(const TokenUsage &u) const {
  // Anthropic's input limit does not count tokens read from the prompt cache.
  return {u.prompt - u.cached, u.completion};
}

bool AnthropicProvider::parse_reply(std::string_view body, ProviderReply &out,
                                    std::string &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, body, "the reply", error)) return false;
  JsonDoc &doc = scratch.doc();
  auto content = doc.FindMember("content");
  if (content == doc.MemberEnd() || !content->value.IsArray()) {
    error = "the reply has no content array";
    return false;
  }
  for (const auto &block : content->value.GetArray()) {
    std::string type = str_member(block, "type");
    if (type == "text") {
      out.text += str_member(block, "text");
    } else if (type == "tool_use") {
      // Structured output comes back as its tool's call too: the engine makes it the text.
      const JsonValue *input = member(block, "input");
      std::string arguments = input ? json_text(*input) : "{}";
      out.tool_calls.push_back({str_member(block, "id"), str_member(block, "name"), std::move(arguments)});
    } else if (type == "thinking") {
      out.thinking += str_member(block, "thinking");
      out.thinking_signature = str_member(block, "signature");
    }
  }
  out.response_id = str_member(doc, "id");
  out.model = str_member(doc, "model");
  out.finish_reason = str_member(doc, "stop_reason");
  if (out.finish_reason == "tool_use") out.finish_reason = "tool_calls";
  auto usage = doc.FindMember("usage");
  if (usage != doc.MemberEnd() && usage->value.IsObject()) {
    out.has_usage = true;
    out.usage_read(read_usage(usage->value, out.usage));
  }
  return true;
}

bool AnthropicProvider::read_usage(const JsonValue &u, TokenUsage &out) {
  bool bad = false;
  int64_t input = int_member(u, "input_tokens", bad);
  int64_t cache_read = int_member(u, "cache_read_input_tokens", bad);
  int64_t cache_write = int_member(u, "cache_creation_input_tokens", bad);
  // Our prompt count includes every input token, however it was billed.
  out.prompt = input + cache_read + cache_write;
  out.cached = cache_read;
  out.cache_write = cache_write;
  out.completion = int_member(u, "output_tokens", bad);
  if (const JsonValue *by_ttl = member(u, "cache_creation"))
    out.cache_write_1h = std::min(cache_write, int_member(*by_ttl, "ephemeral_1h_input_tokens", bad));
  return bad;
}

bool AnthropicProvider::on_stream_event(const StreamEvent &ev, StreamState &st,
                                        std::string &delta, ProviderError &error) const {
  if (ev.name == "ping") return true;
  ScratchDoc scratch;
  if (!parse_object(scratch, ev.data, "a stream event", error.message)) return false;
  JsonDoc &doc = scratch.doc();
  std::string type = ev.name.empty() ? str_member(doc, "type") : ev.name;
  if (type == "content_block_delta") {
    auto d = doc.FindMember("delta");
    if (d == doc.MemberEnd()) return true;
    std::string kind = str_member(d->value, "type");
    const JsonValue *index = member(doc, "index");
    const int64_t key = index && index->IsInt64() ? index->GetInt64() : -1;
    if (kind == "text_delta") delta = str_member(d->value, "text");
    else if (kind == "input_json_delta") st.tool_piece(key, "", "", str_member(d->value, "partial_json"));
    else if (kind == "thinking_delta") st.reply.thinking += str_member(d->value, "thinking");
    else if (kind == "signature_delta") st.reply.thinking_signature += str_member(d->value, "signature");
  } else if (type == "content_block_start") {
    const JsonValue *block = member(doc, "content_block");
    const JsonValue *index = member(doc, "index");
    if (block && str_member(*block, "type") == "tool_use" && index && index->IsInt64())
      st.tool_piece(index->GetInt64(), str_member(*block, "id"), str_member(*block, "name"), "");
  } else if (type == "message_start") {
    auto m = doc.FindMember("message");
    if (m == doc.MemberEnd()) return true;
    st.reply.response_id = str_member(m->value, "id");
    st.reply.model = str_member(m->value, "model");
    const JsonValue *u = member(m->value, "usage");
    // A bad count here makes the whole usage unknown when message_delta completes it.
    if (u && u->IsObject() && read_usage(*u, st.reply.usage)) st.reply.usage_unreadable = true;
  } else if (type == "message_delta") {
    auto d = doc.FindMember("delta");
    if (d != doc.MemberEnd()) st.reply.finish_reason = str_member(d->value, "stop_reason");
    if (st.reply.finish_reason == "tool_use") st.reply.finish_reason = "tool_calls";
    auto u = doc.FindMember("usage");
    if (u != doc.MemberEnd()) {
      bool bad = st.reply.usage_unreadable;
      st.reply.usage.completion = int_member(u->value, "output_tokens", bad);
      st.reply.has_usage = true;  // the input counts came with message_start
      st.reply.usage_read(bad);
    }
  } else if (type == "message_stop") {
    st.done = true;
  } else if (type == "error") {
    parse_error_object(ev.data, error);
    return false;
  }
  return true;
}

ProviderError AnthropicProvider::parse_error(std::string_view body) const {
  ProviderError e;
  parse_error_object(body, e);  // {"type":"error","error":{"type":...,"message":...}}
  return e;
}

void AnthropicProvider::read_header(std::string_view name, std::string_view value,
                                    int64_t wall_now_ms, ResponseHeaders &out) const {
  constexpr std::string_view kPrefix = "anthropic-ratelimit-";
  if (name.rfind(kPrefix, 0) == 0) {
    std::string_view rest = name.substr(kPrefix.size());
    if (rest == "requests-remaining") out.remaining_requests = parse_count(value);
    else if (rest == "requests-reset") out.reset_requests_ns = parse_rfc3339_from(value, wall_now_ms);
    else if (rest == "tokens-remaining") out.remaining_tokens = parse_count(value);
    else if (rest == "tokens-reset") out.reset_tokens_ns = parse_rfc3339_from(value, wall_now_ms);
    else if (rest == "input-tokens-remaining") out.remaining_input_tokens = parse_count(value);
    else if (rest == "input-tokens-reset")
      out.reset_input_tokens_ns = parse_rfc3339_from(value, wall_now_ms);
    else if (rest == "output-tokens-remaining") out.remaining_output_tokens = parse_count(value);
    else if (rest == "output-tokens-reset")
      out.reset_output_tokens_ns = parse_rfc3339_from(value, wall_now_ms);
    return;
  }
  if (read_retry_header(name, value, wall_now_ms, out)) return;
  if (name == "request-id") {
    out.request_id.assign(value.substr(0, value.find_first_of("\r\n")));
  }
}

}  // namespace llmsvc
