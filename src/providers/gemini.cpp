#include "providers/gemini.h"

#include <curl/curl.h>

#include <cmath>

#include "providers/embeddings.h"
#include "providers/fields.h"

namespace llmsvc {
namespace {

constexpr std::string_view kBase64Marker = ";base64,";

// "models/gemini-2.0-flash" and "gemini-2.0-flash" name the same model.
std::string_view model_id(std::string_view m) {
  if (m.rfind("models/", 0) == 0) m.remove_prefix(7);
  return m;
}

bool url_safe(std::string_view m) {
  if (m.empty()) return false;
  for (char c : m)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
      return false;
  return true;
}

// The call a tool message answers, by its id among the assistant messages before it.
const ToolCall *answered_call(const RequestSpec &req, size_t upto, const std::string &id) {
  for (size_t i = 0; i < upto; ++i)
    for (const ToolCall &c : req.messages[i].tool_calls)
      if (c.id == id) return &c;
  return nullptr;
}

void write_text_part(JsonWriter &w, std::string_view text) {
  w.StartObject();
  w.Key("text");
  write_str(w, text);
  w.EndObject();
}

void write_inline(JsonWriter &w, std::string_view mime, std::string_view data) {
  w.StartObject();
  w.Key("inlineData");
  w.StartObject();
  w.Key("mimeType");
  write_str(w, mime);
  w.Key("data");
  write_str(w, data);
  w.EndObject();
  w.EndObject();
}

void write_part(JsonWriter &w, const ContentPart &p) {
  switch (p.type) {
    case ContentPart::Type::kText: write_text_part(w, p.text); break;
    case ContentPart::Type::kImageUrl: {
      // data:image/png;base64,XXXX (links are refused at submit)
      std::string_view url = p.url;
      size_t marker = url.find(kBase64Marker);
      write_inline(w, url.substr(5, marker - 5), url.substr(marker + kBase64Marker.size()));
      break;
    }
    case ContentPart::Type::kAudio:
      write_inline(w, p.format == "mp3" ? "audio/mp3" : "audio/wav", p.data);
      break;
    case ContentPart::Type::kThinking: break;  // Gemini takes no thinking back as text
  }
}

// A tool's result as the object functionResponse.response wants: the text itself when it
// is a JSON object, else {"result": text}.
void write_tool_result(JsonWriter &w, const std::string &text) {
  if (!write_arguments_object(w, text)) {
    w.StartObject();
    w.Key("result");
    write_str(w, text);
    w.EndObject();
  }
}

void write_generation_config(JsonWriter &w, const RequestSpec &req) {
  bool any = req.max_output_tokens > 0 || req.temperature || req.top_p || req.top_k ||
             !req.stop.empty() || req.n > 1 || req.seed || req.presence_penalty ||
             req.frequency_penalty || req.json_mode || req.schema || req.thinking_budget > 0;
  if (!any) return;
  w.Key("generationConfig");
  w.StartObject();
  if (req.max_output_tokens > 0) {
    w.Key("maxOutputTokens");
    w.Int64(req.max_output_tokens);
  }
  if (req.temperature) {
    w.Key("temperature");
    w.Double(*req.temperature);
  }
  if (req.top_p) {
    w.Key("topP");
    w.Double(*req.top_p);
  }
  if (req.top_k) {
    w.Key("topK");
    w.Int64(*req.top_k);
  }
  if (!req.stop.empty()) {
    w.Key("stopSequences");
    w.StartArray();
    for (const std::string &s : req.stop) write_str(w, s);
    w.EndArray();
  }
  if (req.n > 1) {
    w.Key("candidateCount");
    w.Int64(req.n);
  }
  if (req.seed) {
    w.Key("seed");
    w.Int64(*req.seed);
  }
  if (req.presence_penalty) {
    w.Key("presencePenalty");
    w.Double(*req.presence_penalty);
  }
  if (req.frequency_penalty) {
    w.Key("frequencyPenalty");
    w.Double(*req.frequency_penalty);
  }
  if (req.json_mode || req.schema) {
    w.Key("responseMimeType");
    w.String("application/json");
  }
  if (req.schema) {
    w.Key("responseJsonSchema");  // JSON Schema as given (responseSchema is OpenAPI's subset)
    w.RawValue(req.schema_json.data(), req.schema_json.size(), rapidjson::kObjectType);
  }
  if (req.thinking_budget > 0) {
    w.Key("thinkingConfig");
    w.StartObject();
    w.Key("thinkingBudget");
    w.Int64(req.thinking_budget);
    w.Key("includeThoughts");
    w.Bool(true);
    w.EndObject();
  }
  w.EndObject();
}

void write_tools(JsonWriter &w, const RequestSpec &req) {
  if (req.tools.empty()) return;
  w.Key("tools");
  w.StartArray();
  w.StartObject();
  w.Key("functionDeclarations");
  w.StartArray();
  for (const ToolDef &t : req.tools) {
    w.StartObject();
    w.Key("name");
    write_str(w, t.name);
    if (!t.description.empty()) {
      w.Key("description");
      write_str(w, t.description);
    }
    if (!t.parameters_json.empty()) {
      w.Key("parametersJsonSchema");
      w.RawValue(t.parameters_json.data(), t.parameters_json.size(), rapidjson::kObjectType);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndArray();
  if (req.tool_choice == ToolChoice::kDefault) return;
  w.Key("toolConfig");
  w.StartObject();
  w.Key("functionCallingConfig");
  w.StartObject();
  w.Key("mode");
  w.String(req.tool_choice == ToolChoice::kNone   ? "NONE"
           : req.tool_choice == ToolChoice::kAuto ? "AUTO"
                                                  : "ANY");
  if (req.tool_choice == ToolChoice::kNamed) {
    w.Key("allowedFunctionNames");
    w.StartArray();
    write_str(w, req.tool_choice_name);
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
}

// Google's Duration in JSON: "1.5s".
int64_t duration_ns(std::string_view d) {
  if (d.empty() || d.back() != 's') return -1;
  d.remove_suffix(1);
  std::string s(d);
  char *end = nullptr;
  double secs = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(secs) || secs < 0 || secs > 86400.0)
    return -1;
  return int64_t(secs * 1e9);
}

// One candidate's content into text, thinking and tool calls.
struct Candidate {
  std::string text, thinking, finish;
  std::vector<ToolCall> calls;
};

void read_parts(const JsonValue &cand, Candidate &out, StreamState *st, std::string *delta) {
  const JsonValue *content = member(cand, "content");
  const JsonValue *parts = content ? member(*content, "parts") : nullptr;
  if (parts && parts->IsArray()) {
    for (const auto &p : parts->GetArray()) {
      if (const JsonValue *fc = member(p, "functionCall")) {
        const JsonValue *args = member(*fc, "args");
        std::string arguments = args && args->IsObject() ? json_text(*args) : "{}";
        std::string id = str_member(*fc, "id");
        size_t n = st ? st->call_keys.size() : out.calls.size();
        if (id.empty()) id = "call_" + std::to_string(n);
        if (st) st->tool_piece(int64_t(n), id, str_member(*fc, "name"), arguments);
        else out.calls.push_back({std::move(id), str_member(*fc, "name"), std::move(arguments)});
        continue;
      }
      const JsonValue *thought = member(p, "thought");
      std::string text = str_member(p, "text");
      if (thought && thought->IsBool() && thought->GetBool()) {
        out.thinking += text;
      } else if (delta) {
        *delta += text;
      } else {
        out.text += text;
      }
    }
  }
  out.finish = str_member(cand, "finishReason");
}

void read_usage(const JsonValue &doc, ProviderReply &out) {
  const JsonValue *u = member(doc, "usageMetadata");
  if (!u || !u->IsObject()) return;
  bool bad = false;
  TokenUsage usage;
  usage.prompt = int_member(*u, "promptTokenCount", bad);
  int64_t thoughts = int_member(*u, "thoughtsTokenCount", bad);
  // Thinking is billed as output: completion holds it, as OpenAI's reasoning tokens are.
  usage.completion = int_member(*u, "candidatesTokenCount", bad) + thoughts;
  usage.reasoning = thoughts;
  usage.cached = int_member(*u, "cachedContentTokenCount", bad);
  out.usage = usage;
  out.has_usage = true;
  out.usage_read(bad);
}

// Gemini's finishReason as the OpenAI-style reason the results carry.
std::string gemini_finish_reason(std::string_view r) {
  if (r == "STOP") return "stop";
  if (r == "MAX_TOKENS") return "length";
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY")
    return "content_filter";
  if (r == "MALFORMED_FUNCTION_CALL" || r == "UNEXPECTED_TOOL_CALL") return "error";
  std::string lower(r);
  for (char &c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  return lower;  // LANGUAGE, OTHER, ...: as Google names them
}

}  // namespace

GeminiProvider::GeminiProvider(const Config &config)
    : base_(config.base_url + "/models/"),
      url_(base_ + std::string(model_id(config.model)) + ":generateContent") {
  try {
    append_header(headers_, "Content-Type: application/json");
    append_header(headers_, "Expect:");
    append_header(headers_, "x-goog-api-key: " + config.api_key);
    append_config_headers(headers_, config);
  } catch (...) {
    curl_slist_free_all(headers_);
    throw;
  }
}

GeminiProvider::~GeminiProvider() { curl_slist_free_all(headers_); }

std::string GeminiProvider::request_url(const RequestSpec &req) const {
  std::string url = base_;
  url += model_id(req.model);
  url += req.embedding ? ":batchEmbedContents"
         : req.stream  ? ":streamGenerateContent?alt=sse"
                       : ":generateContent";
  return url;
}

std::string GeminiProvider::unsupported(const RequestSpec &req) const {
  if (!url_safe(model_id(req.model)))
    return "model: \"" + req.model + "\" is not a Gemini model name (letters, digits, '-', '.', '_')";
  if (req.embedding) {
    std::vector<std::string> texts;
    if (!embedding_texts(req, texts)) return "input: Gemini embeds text, not token ids";
    if (texts.size() > 100) return "input: Gemini embeds at most 100 inputs per request";
    if (!req.user.empty()) return "user is not a Gemini parameter";
    return {};
  }
  if (!req.previous_response_id.empty()) return "previous_response_id is not a Gemini parameter";
  if (!req.reasoning_effort.empty())
    return "reasoning_effort is not a Gemini parameter (give thinking.budget_tokens)";
  if (!req.logit_bias_json.empty()) return "logit_bias is not a Gemini parameter";
  if (req.logprobs) return "logprobs are not read from Gemini replies";
  if (!req.service_tier.empty()) return "service_tier is not a Gemini parameter";
  if (!req.prompt_cache_key.empty()) return "prompt_cache_key is not a Gemini parameter";
  if (req.parallel_tool_calls) return "parallel_tool_calls is not a Gemini parameter";
  if (req.stream && req.n > 1) return "Gemini streams one candidate (n above 1 with stream)";
  if (std::string why = arguments_not_objects(req); !why.empty()) return why;
  return images_not_inline(req, "Gemini");
}

void GeminiProvider::build_body(const RequestSpec &req, JsonBuffer &out) const {
  if (req.embedding) return build_gemini_embeddings_body(req, model_id(req.model), out);
  JsonWriter w(out);
  w.StartObject();
  // System and developer messages, and the instructions, make the one systemInstruction.
  bool system = !req.instructions.empty();
  for (const Message &m : req.messages) system |= m.role == "system" || m.role == "developer";
  if (system) {
    w.Key("systemInstruction");
    w.StartObject();
    w.Key("parts");
    w.StartArray();
    if (!req.instructions.empty()) write_text_part(w, req.instructions);
    for (const Message &m : req.messages)
      if (m.role == "system" || m.role == "developer")
        for (const ContentPart &p : m.parts)
          if (p.type == ContentPart::Type::kText) write_text_part(w, p.text);
    w.EndArray();
    w.EndObject();
  }
  w.Key("contents");
  w.StartArray();
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const Message &m = req.messages[i];
    if (m.role == "system" || m.role == "developer") continue;
    w.StartObject();
    w.Key("role");
    w.String(m.role == "assistant" ? "model" : "user");
    w.Key("parts");
    w.StartArray();
    if (m.role == "tool") {
      // Results of one turn's calls go back together, in one user turn.
      for (;; ++i) {
        const Message &t = req.messages[i];
        const ToolCall *call = answered_call(req, i, t.tool_call_id);
        w.StartObject();
        w.Key("functionResponse");
        w.StartObject();
        w.Key("name");
        write_str(w, call ? call->name : std::string());
        w.Key("response");
        write_tool_result(w, parts_text(t));
        w.EndObject();
        w.EndObject();
        if (i + 1 >= req.messages.size() || req.messages[i + 1].role != "tool") break;
      }
    } else {
      for (const ContentPart &p : m.parts) write_part(w, p);
      for (const ToolCall &c : m.tool_calls) {
        w.StartObject();
        w.Key("functionCall");
        w.StartObject();
        w.Key("name");
        write_str(w, c.name);
        w.Key("args");  // an object, checked at submit
        if (!write_arguments_object(w, c.arguments)) {
          w.StartObject();
          w.EndObject();
        }
        w.EndObject();
        w.EndObject();
      }
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  write_generation_config(w, req);
  write_tools(w, req);
  w.EndObject();
}

int64_t GeminiProvider::estimate_prompt_tokens(const RequestSpec &req) const {
  if (req.embedding) return req.input_tokens;
  return estimate_with_instructions(req);
}

bool GeminiProvider::parse_reply(std::string_view body, ProviderReply &out,
                                 std::string &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, body, "the reply", error)) return false;
  JsonDoc &doc = scratch.doc();
  if (doc.HasMember("embeddings") && !doc.HasMember("candidates"))
    return parse_gemini_embeddings(doc, out, error);
  out.model = str_member(doc, "modelVersion");
  out.response_id = str_member(doc, "responseId");
  read_usage(doc, out);
  const JsonValue *cands = member(doc, "candidates");
  if (!cands || !cands->IsArray() || cands->Empty()) {
    // The prompt itself was blocked: no candidate, a reason in promptFeedback.
    const JsonValue *fb = member(doc, "promptFeedback");
    if (fb && !str_member(*fb, "blockReason").empty()) {
      out.finish_reason = "content_filter";
      return true;
    }
    error = "the reply has no candidates";
    return false;
  }
  std::vector<Candidate> all;
  for (const auto &c : cands->GetArray()) {
    Candidate k;
    read_parts(c, k, nullptr, nullptr);
    k.finish = k.calls.empty() ? gemini_finish_reason(k.finish) : "tool_calls";
    all.push_back(std::move(k));
  }
  out.text = all[0].text;
  out.thinking = all[0].thinking;
  out.tool_calls = all[0].calls;
  out.finish_reason = all[0].finish;
  if (all.size() > 1)
    for (Candidate &k : all)
      out.choices.push_back({std::move(k.text), std::move(k.calls), std::move(k.finish), {}});
  return true;
}

bool GeminiProvider::on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                                     ProviderError &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, ev.data, "a stream event", error.message)) return false;
  JsonDoc &doc = scratch.doc();
  if (doc.HasMember("error")) {
    error = parse_error(ev.data);
    // The engine reads a stream's error by OpenAI's names.
    error.type = error.type == "RESOURCE_EXHAUSTED" ? "rate_limit_error"
                 : error.type == "INVALID_ARGUMENT" ? "invalid_request_error"
                                                    : "server_error";
    return false;
  }
  std::string id = str_member(doc, "responseId");
  if (!id.empty()) st.reply.response_id = std::move(id);
  std::string model = str_member(doc, "modelVersion");
  if (!model.empty()) st.reply.model = std::move(model);
  read_usage(doc, st.reply);  // counts so far; the last event's are the reply's
  const JsonValue *cands = member(doc, "candidates");
  if (cands && cands->IsArray() && !cands->Empty()) {
    Candidate k;
    read_parts((*cands)[0], k, &st, &delta);
    st.reply.thinking += k.thinking;
    if (!k.finish.empty()) {
      st.reply.finish_reason =
          st.reply.tool_calls.empty() ? gemini_finish_reason(k.finish) : "tool_calls";
      st.done = true;  // Gemini's last event is the one with a finishReason
    }
  } else if (const JsonValue *fb = member(doc, "promptFeedback");
             fb && !str_member(*fb, "blockReason").empty()) {
    st.reply.finish_reason = "content_filter";
    st.done = true;
  }
  return true;
}

ProviderError GeminiProvider::parse_error(std::string_view body) const {
  // {"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED",
  //            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
  //                         "retryDelay": "1.5s"}, ...]}}
  ProviderError e;
  ScratchDoc scratch;
  std::string ignored;
  if (!parse_object(scratch, body, "the error", ignored)) return e;
  const JsonValue *err = member(scratch.doc(), "error");
  if (!err || !err->IsObject()) return e;
  e.message = str_member(*err, "message");
  e.type = str_member(*err, "status");
  e.code = e.type;
  bool quota = false, retry_info = false;
  if (const JsonValue *details = member(*err, "details"); details && details->IsArray()) {
    for (const auto &d : details->GetArray()) {
      std::string type = str_member(d, "@type");
      if (type.size() > 10 && type.compare(type.size() - 10, 10, ".RetryInfo") == 0) {
        retry_info = true;
        e.retry_after_ns = duration_ns(str_member(d, "retryDelay"));
      } else if (type.size() > 13 && type.compare(type.size() - 13, 13, ".QuotaFailure") == 0) {
        quota = true;
      } else if (str_member(d, "reason") == "API_KEY_INVALID") {
        e.code = "API_KEY_INVALID";  // a 400, but the key is at fault
      }
    }
  }
  // Out of quota with no time to wait for: no retry will help (a daily or billing quota).
  if (e.type == "RESOURCE_EXHAUSTED" && quota && !retry_info) e.code = "insufficient_quota";
  return e;
}

void GeminiProvider::read_header(std::string_view name, std::string_view value,
                                 int64_t wall_now_ms, ResponseHeaders &out) const {
  read_retry_header(name, value, wall_now_ms, out);  // a proxy in front may send these
}

}  // namespace llmsvc
