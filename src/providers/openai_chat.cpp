#include "providers/openai_chat.h"

#include <curl/curl.h>

#include <new>

#include "providers/fields.h"
#include "retry/policy.h"

namespace llmsvc {

OpenAIChatProvider::OpenAIChatProvider(const Config &config)
    : url_(config.base_url + "/chat/completions"),
      max_tokens_field_(config.max_tokens_field),
      headers_(openai_headers(config)) {}

OpenAIChatProvider::~OpenAIChatProvider() { curl_slist_free_all(headers_); }

namespace {

void write_content(JsonWriter &w, const Message &m) {
  if (m.content_is_string) {
    write_str(w, m.parts.front().text);
    return;
  }
  w.StartArray();
  for (const ContentPart &p : m.parts) {
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
    write_content(w, m);
    if (!m.name.empty()) {
      w.Key("name");
      write_str(w, m.name);
    }
    w.EndObject();
  }
  w.EndArray();
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
  return {};
}

int64_t OpenAIChatProvider::estimate_prompt_tokens(const RequestSpec &req) const {
  return estimate_with_instructions(req);
}

bool OpenAIChatProvider::parse_reply(std::string_view body, ProviderReply &out,
                                     std::string &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, body, "the reply", error)) return false;
  JsonDoc &doc = scratch.doc();
  auto choices = doc.FindMember("choices");
  if (choices == doc.MemberEnd() || !choices->value.IsArray() || choices->value.Empty()) {
    error = "the reply has no choices";
    return false;
  }
  const JsonValue &choice = choices->value[0];
  auto msg = choice.IsObject() ? choice.FindMember("message") : choice.MemberEnd();
  if (!choice.IsObject() || msg == choice.MemberEnd() || !msg->value.IsObject()) {
    error = "the reply's first choice has no message";
    return false;
  }
  out.text = str_member(msg->value, "content");
  out.finish_reason = str_member(choice, "finish_reason");
  out.response_id = str_member(doc, "id");
  out.model = str_member(doc, "model");
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
    if (const JsonValue *d = member(c, "delta")) delta = str_member(*d, "content");
    std::string finish = str_member(c, "finish_reason");
    if (!finish.empty()) st.reply.finish_reason = std::move(finish);
  }
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
  } catch (...) {
    curl_slist_free_all(list);
    throw;
  }
  return list;
}

}  // namespace llmsvc
