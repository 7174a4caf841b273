#include "providers/openai_responses.h"

#include <curl/curl.h>

#include "providers/fields.h"
#include "providers/openai_chat.h"

namespace llmsvc {

OpenAIResponsesProvider::OpenAIResponsesProvider(const Config &config)
    : url_(config.base_url + "/responses"), headers_(openai_headers(config)) {}

OpenAIResponsesProvider::~OpenAIResponsesProvider() { curl_slist_free_all(headers_); }

std::string OpenAIResponsesProvider::unsupported(const RequestSpec &req) const {
  if (!req.stop.empty()) return "the Responses API takes no stop sequences";
  if (req.seed) return "the Responses API takes no seed";
  if (has_audio(req)) return "the Responses API takes no audio input (use openai_chat)";
  if (req.max_output_tokens > 0 && req.max_output_tokens < 16)
    return "the Responses API needs max_output_tokens of at least 16";
  if (req.frequency_penalty || req.presence_penalty)
    return "the Responses API takes no frequency_penalty or presence_penalty (use openai_chat)";
  if (!req.logit_bias_json.empty()) return "the Responses API takes no logit_bias (use openai_chat)";
  if (req.n > 1) return "the Responses API makes one answer per request (n above 1: use openai_chat)";
  if (req.top_k) return "top_k is not an OpenAI Responses parameter";
  if (req.thinking_budget > 0)
    return "thinking is Anthropic's; OpenAI reasoning models take reasoning_effort";
  return {};
}

namespace {

void write_function_call(JsonWriter &w, const ToolCall &c) {
  w.StartObject();
  w.Key("type");
  w.String("function_call");
  w.Key("call_id");
  write_str(w, c.id);
  w.Key("name");
  write_str(w, c.name);
  w.Key("arguments");
  write_str(w, c.arguments);
  w.EndObject();
}

}  // namespace

void OpenAIResponsesProvider::build_body(const RequestSpec &req, JsonBuffer &out) const {
  JsonWriter w(out);
  w.StartObject();
  w.Key("model");
  write_str(w, req.model);
  if (!req.instructions.empty()) {
    w.Key("instructions");
    write_str(w, req.instructions);
  }
  w.Key("input");
  w.StartArray();
  for (const Message &m : req.messages) {
    if (m.role == "tool") {  // a tool's answer is an item of its own
      w.StartObject();
      w.Key("type");
      w.String("function_call_output");
      w.Key("call_id");
      write_str(w, m.tool_call_id);
      w.Key("output");
      write_str(w, parts_text(m));
      w.EndObject();
      continue;
    }
    if (!has_content_besides_thinking(m)) {  // an assistant turn of tool calls only
      for (const ToolCall &c : m.tool_calls) write_function_call(w, c);
      continue;
    }
    w.StartObject();
    w.Key("role");
    write_str(w, m.role);
    w.Key("content");
    if (m.content_is_string) {
      write_str(w, m.parts.front().text);
    } else if (m.role == "assistant") {
      // Earlier answers go back as output text.
      w.StartArray();
      for (const ContentPart &p : m.parts) {
        if (p.type == ContentPart::Type::kThinking) continue;  // Anthropic's state
        w.StartObject();
        w.Key("type");
        w.String("output_text");
        w.Key("text");
        write_str(w, p.text);
        w.EndObject();
      }
      w.EndArray();
    } else {
      w.StartArray();
      for (const ContentPart &p : m.parts) {
        w.StartObject();
        if (p.type == ContentPart::Type::kText) {
          w.Key("type");
          w.String("input_text");
          w.Key("text");
          write_str(w, p.text);
        } else {
          w.Key("type");
          w.String("input_image");
          w.Key("image_url");
          write_str(w, p.url);
          w.Key("detail");
          write_str(w, p.detail.empty() ? std::string_view("auto") : std::string_view(p.detail));
        }
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    for (const ToolCall &c : m.tool_calls) write_function_call(w, c);
  }
  w.EndArray();
  write_openai_tools(w, req, true);
  if (req.logprobs) {
    w.Key("include");
    w.StartArray();
    w.String("message.output_text.logprobs");
    w.EndArray();
    if (req.top_logprobs) {
      w.Key("top_logprobs");
      w.Int64(*req.top_logprobs);
    }
  }
  write_opt_str(w, "service_tier", req.service_tier);
  write_opt_str(w, "prompt_cache_key", req.prompt_cache_key);
  if (req.json_mode) {
    w.Key("text");
    w.StartObject();
    w.Key("format");
    w.StartObject();
    w.Key("type");
    w.String("json_object");
    w.EndObject();
    w.EndObject();
  }
  if (req.stream) {
    w.Key("stream");
    w.Bool(true);
  }
  if (req.max_output_tokens > 0) {
    w.Key("max_output_tokens");
    w.Int64(req.max_output_tokens);
  }
  write_sampling(w, req);
  if (!req.reasoning_effort.empty()) {
    w.Key("reasoning");
    w.StartObject();
    w.Key("effort");
    write_str(w, req.reasoning_effort);
    w.EndObject();
  }
  if (!req.previous_response_id.empty()) {
    w.Key("previous_response_id");
    write_str(w, req.previous_response_id);
  }
  if (!req.user.empty()) {
    w.Key("user");
    write_str(w, req.user);
  }
  if (req.schema) {
    w.Key("text");
    w.StartObject();
    w.Key("format");
    w.StartObject();
    w.Key("type");
    w.String("json_schema");
    write_schema_members(w, req);
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
}

int64_t OpenAIResponsesProvider::estimate_prompt_tokens(const RequestSpec &req) const {
  // As for Chat Completions. The context of a previous response is added by the engine,
  // which remembers its size.
  return estimate_with_instructions(req);
}

bool OpenAIResponsesProvider::parse_reply(std::string_view body, ProviderReply &out,
                                          std::string &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, body, "the reply", error)) return false;
  return read_response(scratch.doc(), out, error);
}

bool OpenAIResponsesProvider::read_response(const JsonValue &doc, ProviderReply &out,
                                            std::string &error) {
  const JsonValue *output = member(doc, "output");
  if (!output || !output->IsArray()) {
    error = "the reply has no output array";
    return false;
  }
  for (const auto &item : output->GetArray()) {
    std::string item_type = str_member(item, "type");
    if (item_type == "function_call") {
      out.tool_calls.push_back(
          {str_member(item, "call_id"), str_member(item, "name"), str_member(item, "arguments")});
      continue;
    }
    if (item_type != "message") continue;  // reasoning items carry no text
    auto content = item.FindMember("content");
    if (content == item.MemberEnd() || !content->value.IsArray()) continue;
    for (const auto &part : content->value.GetArray()) {
      std::string type = str_member(part, "type");
      if (type == "output_text") {
        out.text += str_member(part, "text");
        if (const JsonValue *lp = member(part, "logprobs")) append_logprobs(out.logprobs_json, *lp);
      } else if (type == "refusal") {
        out.finish_reason = "refusal";
      }
    }
  }
  if (!out.tool_calls.empty()) out.finish_reason = "tool_calls";
  out.response_id = str_member(doc, "id");
  out.model = str_member(doc, "model");
  out.service_tier = str_member(doc, "service_tier");
  if (out.finish_reason.empty()) {
    std::string status = str_member(doc, "status");
    auto details = doc.FindMember("incomplete_details");
    std::string reason = details != doc.MemberEnd() ? str_member(details->value, "reason") : "";
    out.finish_reason = status == "completed"                 ? "stop"
                        : reason == "max_output_tokens"       ? "length"
                        : !reason.empty()                     ? reason
                                                              : status;
  }
  auto usage = doc.FindMember("usage");
  if (usage != doc.MemberEnd() && usage->value.IsObject()) {
    const JsonValue &u = usage->value;
    out.has_usage = true;
    bool bad = false;
    out.usage.prompt = int_member(u, "input_tokens", bad);
    out.usage.completion = int_member(u, "output_tokens", bad);
    auto in = u.FindMember("input_tokens_details");
    if (in != u.MemberEnd()) out.usage.cached = int_member(in->value, "cached_tokens", bad);
    auto outd = u.FindMember("output_tokens_details");
    if (outd != u.MemberEnd()) out.usage.reasoning = int_member(outd->value, "reasoning_tokens", bad);
    out.usage_read(bad);
  }
  return true;
}

bool OpenAIResponsesProvider::on_stream_event(const StreamEvent &ev, StreamState &st,
                                              std::string &delta, ProviderError &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, ev.data, "a stream event", error.message)) return false;
  JsonDoc &doc = scratch.doc();
  std::string type = ev.name.empty() ? str_member(doc, "type") : ev.name;
  if (type == "response.output_text.delta") {
    delta = str_member(doc, "delta");
    if (const JsonValue *lp = member(doc, "logprobs")) append_logprobs(st.reply.logprobs_json, *lp);
    return true;
  }
  // A function call: announced as an output item, then its arguments piece by piece.
  const JsonValue *index = member(doc, "output_index");
  const int64_t key = index && index->IsInt64() ? index->GetInt64() : -1;
  if (type == "response.output_item.added") {
    const JsonValue *item = member(doc, "item");
    if (item && str_member(*item, "type") == "function_call")
      st.tool_piece(key, str_member(*item, "call_id"), str_member(*item, "name"),
                    str_member(*item, "arguments"));
    return true;
  }
  if (type == "response.function_call_arguments.delta") {
    st.tool_piece(key, "", "", str_member(doc, "delta"));
    return true;
  }
  if (type == "response.completed" || type == "response.incomplete") {
    auto resp = doc.FindMember("response");
    ProviderReply whole;
    std::string why;
    if (resp == doc.MemberEnd() || !read_response(resp->value, whole, why)) {
      error.message = "the closing event carries no response: " + why;
      return false;
    }
    if (st.reply.text.empty()) delta = whole.text;  // nothing streamed: the text comes whole
    // The closing event's calls are the whole truth (a streamed call may have been cut).
    if (!whole.tool_calls.empty()) st.reply.tool_calls = std::move(whole.tool_calls);
    if (st.reply.logprobs_json.empty()) st.reply.logprobs_json = std::move(whole.logprobs_json);
    st.reply.response_id = whole.response_id;
    st.reply.model = whole.model;
    st.reply.finish_reason = whole.finish_reason;
    st.reply.service_tier = whole.service_tier;
    st.reply.usage = whole.usage;
    st.reply.has_usage = whole.has_usage;
    st.reply.usage_unreadable = whole.usage_unreadable;
    st.done = true;
    return true;
  }
  if (type == "response.failed" || type == "error") {
    auto resp = doc.FindMember("response");
    const JsonValue &holder = resp != doc.MemberEnd() ? resp->value : doc;
    const JsonValue *err = member(holder, "error");
    const JsonValue &e = err ? *err : holder;
    error.type = "server_error";
    error.code = str_member(e, "code");
    error.message = str_member(e, "message");
    return false;
  }
  if (type == "response.created") {
    auto resp = doc.FindMember("response");
    if (resp != doc.MemberEnd()) {
      st.reply.response_id = str_member(resp->value, "id");
      st.reply.model = str_member(resp->value, "model");
    }
  }
  return true;  // the other events repeat what the deltas and the closing event carry
}

ProviderError OpenAIResponsesProvider::parse_error(std::string_view body) const {
  ProviderError e;
  parse_error_object(body, e);
  return e;
}

void OpenAIResponsesProvider::read_header(std::string_view name, std::string_view value,
                                          int64_t wall_now_ms, ResponseHeaders &out) const {
  read_openai_header(name, value, wall_now_ms, out);
}

}  // namespace llmsvc
