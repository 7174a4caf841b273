#include "providers/openai_chat.h"

#include <curl/curl.h>

#include <new>

#include "providers/embeddings.h"
#include "providers/fields.h"
#include "retry/policy.h"

namespace llmsvc {

OpenAIChatProvider::OpenAIChatProvider(const Config &config)
    : url_(config.base_url + "/chat/completions"),
      embeddings_url_(config.base_url + "/embeddings"),
      max_tokens_field_(config.max_tokens_field),
      headers_(openai_headers(config)) {}

namespace {

// Azure OpenAI's headers: its api-key header instead of a bearer key (a Microsoft Entra
// token goes in the configuration's "headers" as Authorization instead).
curl_slist *azure_headers(const Config &config) {
  curl_slist *list = nullptr;
  try {
    append_header(list, "Content-Type: application/json");
    append_header(list, "Accept: application/json");
    append_header(list, "Expect:");
    if (!config.api_key.empty()) append_header(list, "api-key: " + config.api_key);
    append_config_headers(list, config);
  } catch (...) {
    curl_slist_free_all(list);
    throw;
  }
  return list;
}

}  // namespace

OpenAIChatProvider::OpenAIChatProvider(const Config &config, Azure)
    : name_("azure_openai"),
      url_(config.base_url + "/openai/deployments/" +
           (config.azure_deployment.empty() ? config.model : config.azure_deployment) +
           "/chat/completions?api-version=" + config.api_version),
      embeddings_url_(config.base_url + "/openai/deployments/" +
                      (config.azure_deployment.empty() ? config.model : config.azure_deployment) +
                      "/embeddings?api-version=" + config.api_version),
      max_tokens_field_(config.max_tokens_field),
      headers_(azure_headers(config)) {}

OpenAIChatProvider::~OpenAIChatProvider() { curl_slist_free_all(headers_); }

namespace {

void write_content(JsonWriter &w, const Message &m) {
  if (m.content_is_string) {
    write_str(w, m.parts.front().text);
    return;
  }
  w.StartArray();
  for (const ContentPart &p : m.parts) {
    if (p.type == ContentPart::Type::kThinking) continue;  // Anthropic's state, not OpenAI's
    w.StartObject();
    if (p.type == ContentPart::Type::kText) {
      w.Key("type");
      w.String("text");
      w.Key("text");
      write_str(w, p.text);
    } else if (p.type == ContentPart::Type::kAudio) {
      w.Key("type");
      w.String("input_audio");
      w.Key("input_audio");
      w.StartObject();
      w.Key("data");
      write_str(w, p.data);
      w.Key("format");
      write_str(w, p.format);
      w.EndObject();
    } else {
      w.Key("type");
      w.String("image_url");
      w.Key("image_url");
      w.StartObject();
      w.Key("url");
      write_str(w, p.url);
      if (!p.detail.empty()) {
        w.Key("detail");
        write_str(w, p.detail);
      }
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

void OpenAIChatProvider::build_body(const RequestSpec &req, JsonBuffer &out) const {
  if (req.embedding) return build_openai_embeddings_body(req, out);
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
    write_str(w, m.role);
    w.Key("content");
    if (!has_content_besides_thinking(m)) w.Null();  // an assistant message that only calls tools
    else write_content(w, m);
    if (!m.name.empty()) {
      w.Key("name");
      write_str(w, m.name);
    }
    if (!m.tool_call_id.empty()) {
      w.Key("tool_call_id");
      write_str(w, m.tool_call_id);
    }
    if (!m.tool_calls.empty()) {
      w.Key("tool_calls");
      w.StartArray();
      for (const ToolCall &c : m.tool_calls) {
        w.StartObject();
        w.Key("id");
        write_str(w, c.id);
        w.Key("type");
        w.String("function");
        w.Key("function");
        w.StartObject();
        w.Key("name");
        write_str(w, c.name);
        w.Key("arguments");
        write_str(w, c.arguments);
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  write_openai_tools(w, req, false);
  if (req.frequency_penalty) {
    w.Key("frequency_penalty");
    w.Double(*req.frequency_penalty);
  }
  if (req.presence_penalty) {
    w.Key("presence_penalty");
    w.Double(*req.presence_penalty);
  }
  if (!req.logit_bias_json.empty()) {
    w.Key("logit_bias");
    w.RawValue(req.logit_bias_json.data(), req.logit_bias_json.size(), rapidjson::kObjectType);
  }
  if (req.n > 1) {
    w.Key("n");
    w.Int64(req.n);
  }
  if (req.logprobs) {
    w.Key("logprobs");
    w.Bool(true);
    if (req.top_logprobs) {
      w.Key("top_logprobs");
      w.Int64(*req.top_logprobs);
    }
  }
  write_opt_str(w, "service_tier", req.service_tier);
  write_opt_str(w, "prompt_cache_key", req.prompt_cache_key);
  if (req.max_output_tokens > 0) {
    write_key(w, max_tokens_field_);
    w.Int64(req.max_output_tokens);
  }
  write_sampling(w, req);
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
  if (!req.user.empty()) {
    w.Key("user");
    write_str(w, req.user);
  }
  if (req.stream) {
    w.Key("stream");
    w.Bool(true);
    w.Key("stream_options");  // the usage arrives as a last chunk only when asked for
    w.StartObject();
    w.Key("include_usage");
    w.Bool(true);
    w.EndObject();
  }
  if (!req.reasoning_effort.empty()) {
    w.Key("reasoning_effort");
    write_str(w, req.reasoning_effort);
  }
  if (req.json_mode) {
    w.Key("response_format");
    w.StartObject();
    w.Key("type");
    w.String("json_object");
    w.EndObject();
  }
  if (req.schema) {
    w.Key("response_format");
    w.StartObject();
    w.Key("type");
    w.String("json_schema");
    w.Key("json_schema");
    w.StartObject();
    write_schema_members(w, req);
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
}

std::string OpenAIChatProvider::unsupported(const RequestSpec &req) const {
  if (!req.previous_response_id.empty())
    return "previous_response_id needs the Responses API (provider openai_responses)";
  if (req.top_k) return "top_k is not an OpenAI Chat Completions parameter";
  if (req.thinking_budget > 0)
    return "thinking is Anthropic's; OpenAI reasoning models take reasoning_effort";
  if (req.stream && req.n > 1)
    return "n above 1 is not streamed by this library (ask without stream, or n 1)";
  return {};
}

int64_t OpenAIChatProvider::estimate_prompt_tokens(const RequestSpec &req) const {
  if (req.embedding) return req.input_tokens;
  return estimate_with_instructions(req);
}

bool OpenAIChatProvider::parse_reply(std::string_view body, ProviderReply &out,
                                     std::string &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, body, "the reply", error)) return false;
  JsonDoc &doc = scratch.doc();
  auto choices = doc.FindMember("choices");
  if (choices == doc.MemberEnd() && doc.HasMember("data"))  // an embeddings reply
    return parse_openai_embeddings(doc, out, error);
  if (choices == doc.MemberEnd() || !choices->value.IsArray() || choices->value.Empty()) {
    error = "the reply has no choices";
    return false;
  }
  const JsonValue &list = choices->value;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const JsonValue &choice = list[i];
    const JsonValue *msg = member(choice, "message");
    if (!msg || !msg->IsObject()) {
      error = "the reply's choice " + std::to_string(i) + " has no message";
      return false;
    }
    ReplyChoice c;
    c.text = str_member(*msg, "content");
    c.finish_reason = str_member(choice, "finish_reason");
    if (const JsonValue *calls = member(*msg, "tool_calls"); calls && calls->IsArray()) {
      for (const auto &call : calls->GetArray()) {
        const JsonValue *fn = member(call, "function");
        if (!fn) continue;
        c.tool_calls.push_back({str_member(call, "id"), str_member(*fn, "name"),
                                str_member(*fn, "arguments")});
      }
    }
    if (!c.tool_calls.empty()) c.finish_reason = "tool_calls";
    if (const JsonValue *lp = member(choice, "logprobs"))
      if (const JsonValue *content = member(*lp, "content")) append_logprobs(c.logprobs_json, *content);
    // Choices come in index order; a server that numbers them is followed.
    int64_t index = choice.IsObject() && member(choice, "index") && (*member(choice, "index")).IsInt64()
                        ? (*member(choice, "index")).GetInt64()
                        : int64_t(i);
    if (index < 0 || index >= int64_t(list.Size())) index = int64_t(i);
    if (out.choices.size() <= size_t(index)) out.choices.resize(size_t(index) + 1);
    out.choices[size_t(index)] = std::move(c);
  }
  ReplyChoice &first = out.choices.front();
  out.text = first.text;
  out.tool_calls = first.tool_calls;
  out.finish_reason = first.finish_reason;
  out.logprobs_json = first.logprobs_json;
  if (out.choices.size() == 1) out.choices.clear();
  out.response_id = str_member(doc, "id");
  out.model = str_member(doc, "model");
  out.service_tier = str_member(doc, "service_tier");
  read_chat_usage(doc, out);
  return true;
}

void OpenAIChatProvider::read_chat_usage(const JsonValue &doc, ProviderReply &out) {
  auto usage = doc.FindMember("usage");
  if (usage == doc.MemberEnd() || !usage->value.IsObject()) return;
  const JsonValue &u = usage->value;
  out.has_usage = true;
  bool bad = false;
  out.usage.prompt = int_member(u, "prompt_tokens", bad);
  out.usage.completion = int_member(u, "completion_tokens", bad);
  auto pd = u.FindMember("prompt_tokens_details");
  if (pd != u.MemberEnd()) out.usage.cached = int_member(pd->value, "cached_tokens", bad);
  auto cd = u.FindMember("completion_tokens_details");
  if (cd != u.MemberEnd()) out.usage.reasoning = int_member(cd->value, "reasoning_tokens", bad);
  out.usage_read(bad);
}

bool OpenAIChatProvider::on_stream_event(const StreamEvent &ev, StreamState &st,
                                         std::string &delta, ProviderError &error) const {
  if (ev.data == "[DONE]") {
    st.done = true;
    return true;
  }
  ScratchDoc scratch;
  if (!parse_object(scratch, ev.data, "a stream chunk", error.message)) return false;
  JsonDoc &doc = scratch.doc();
  if (doc.HasMember("error")) {
    parse_error_object(ev.data, error);
    if (error.type.empty()) error.type = "server_error";
    return false;
  }
  if (st.reply.response_id.empty()) st.reply.response_id = str_member(doc, "id");
  if (st.reply.model.empty()) st.reply.model = str_member(doc, "model");
  auto choices = doc.FindMember("choices");
  if (choices != doc.MemberEnd() && choices->value.IsArray() && !choices->value.Empty()) {
    const JsonValue &c = choices->value[0];
    if (const JsonValue *d = member(c, "delta")) {
      delta = str_member(*d, "content");
      if (const JsonValue *calls = member(*d, "tool_calls"); calls && calls->IsArray()) {
        for (const auto &call : calls->GetArray()) {
          const JsonValue *idx = member(call, "index");
          const JsonValue *fn = member(call, "function");
          if (!idx || !idx->IsInt64()) continue;
          st.tool_piece(idx->GetInt64(), str_member(call, "id"),
                        fn ? str_member(*fn, "name") : std::string(),
                        fn ? str_member(*fn, "arguments") : std::string());
        }
      }
    }
    if (const JsonValue *lp = member(c, "logprobs"))
      if (const JsonValue *content = member(*lp, "content"))
        append_logprobs(st.reply.logprobs_json, *content);
    std::string finish = str_member(c, "finish_reason");
    if (!finish.empty()) st.reply.finish_reason = std::move(finish);
    if (!st.reply.tool_calls.empty()) st.reply.finish_reason = "tool_calls";
  }
  if (std::string tier = str_member(doc, "service_tier"); !tier.empty()) st.reply.service_tier = tier;
  read_chat_usage(doc, st.reply);
  return true;
}

ProviderError OpenAIChatProvider::parse_error(std::string_view body) const {
  ProviderError e;
  parse_error_object(body, e);
  return e;
}

void OpenAIChatProvider::read_header(std::string_view name, std::string_view value,
                                     int64_t wall_now_ms, ResponseHeaders &out) const {
  read_openai_header(name, value, wall_now_ms, out);
}

void read_openai_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                        ResponseHeaders &out) {
  if (read_retry_header(name, value, wall_now_ms, out)) return;
  if (name == "x-ratelimit-remaining-requests") out.remaining_requests = parse_count(value);
  else if (name == "x-ratelimit-remaining-tokens") out.remaining_tokens = parse_count(value);
  else if (name == "x-ratelimit-reset-requests") out.reset_requests_ns = parse_go_duration(value);
  else if (name == "x-ratelimit-reset-tokens") out.reset_tokens_ns = parse_go_duration(value);
  else if (name == "x-request-id") out.request_id.assign(value.substr(0, value.find_first_of("\r\n")));
}

curl_slist *openai_headers(const Config &config) {
  curl_slist *list = nullptr;
  try {
    append_header(list, "Content-Type: application/json");
    append_header(list, "Accept: application/json");
    append_header(list, "Expect:");  // no 100-continue round trip for larger bodies
    if (!config.api_key.empty()) append_header(list, "Authorization: Bearer " + config.api_key);
    if (!config.organization.empty())
      append_header(list, "OpenAI-Organization: " + config.organization);
    if (!config.project.empty()) append_header(list, "OpenAI-Project: " + config.project);
    append_config_headers(list, config);
  } catch (...) {
    curl_slist_free_all(list);
    throw;
  }
  return list;
}

}  // namespace llmsvc
