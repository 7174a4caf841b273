#include "providers/bedrock.h"

#include <curl/curl.h>

#include "providers/embeddings.h"
#include "providers/fields.h"

namespace llmsvc {
namespace {

bool is_system(const Message &m) { return m.role == "system" || m.role == "developer"; }

// "data:image/png;base64,AAAA" → "png", "AAAA"; false for anything else.
bool image_parts(const std::string &url, std::string_view &format, std::string_view &data) {
  constexpr std::string_view kPrefix = "data:image/", kMarker = ";base64,";
  if (url.rfind(kPrefix, 0) != 0) return false;
  size_t marker = url.find(kMarker);
  if (marker == std::string::npos) return false;
  format = std::string_view(url).substr(kPrefix.size(), marker - kPrefix.size());
  data = std::string_view(url).substr(marker + kMarker.size());
  return format == "png" || format == "jpeg" || format == "gif" || format == "webp";
}

void write_text_block(JsonWriter &w, std::string_view text) {
  w.StartObject();
  w.Key("text");
  write_str(w, text);
  w.EndObject();
}

void write_tool_spec(JsonWriter &w, std::string_view name, std::string_view description,
                     std::string_view schema) {
  w.StartObject();
  w.Key("toolSpec");
  w.StartObject();
  w.Key("name");
  write_str(w, name);
  if (!description.empty()) {
    w.Key("description");
    write_str(w, description);
  }
  w.Key("inputSchema");
  w.StartObject();
  w.Key("json");  // a tool without parameters takes an empty object
  if (schema.empty()) w.RawValue("{\"type\":\"object\"}", 17, rapidjson::kObjectType);
  else w.RawValue(schema.data(), schema.size(), rapidjson::kObjectType);
  w.EndObject();
  w.EndObject();
  w.EndObject();
}

// A message's blocks: text and images; an assistant's tool calls; a tool message's result.
void write_blocks(JsonWriter &w, const Message &m) {
  if (m.role == "tool") {
    w.StartObject();
    w.Key("toolResult");
    w.StartObject();
    w.Key("toolUseId");
    write_str(w, m.tool_call_id);
    w.Key("content");
    w.StartArray();
    write_text_block(w, parts_text(m));
    w.EndArray();
    w.EndObject();
    w.EndObject();
    return;
  }
  for (const ContentPart &p : m.parts) {
    if (p.type == ContentPart::Type::kText) {
      if (!p.text.empty()) write_text_block(w, p.text);
    } else if (p.type == ContentPart::Type::kImageUrl) {
      std::string_view format, data;
      image_parts(p.url, format, data);  // unsupported() refused anything else
      w.StartObject();
      w.Key("image");
      w.StartObject();
      w.Key("format");
      write_str(w, format);
      w.Key("source");
      w.StartObject();
      w.Key("bytes");
      write_str(w, data);
      w.EndObject();
      w.EndObject();
      w.EndObject();
    }
  }
  for (const ToolCall &c : m.tool_calls) {
    w.StartObject();
    w.Key("toolUse");
    w.StartObject();
    w.Key("toolUseId");
    write_str(w, c.id);
    w.Key("name");
    write_str(w, c.name);
    w.Key("input");
    if (!write_arguments_object(w, c.arguments)) w.RawValue("{}", 2, rapidjson::kObjectType);
    w.EndObject();
    w.EndObject();
  }
}

std::string finish_reason(std::string_view stop) {
  if (stop == "end_turn" || stop == "stop_sequence") return "stop";
  if (stop == "max_tokens") return "length";
  if (stop == "tool_use") return "tool_calls";
  if (stop == "content_filtered" || stop == "guardrail_intervened") return "content_filter";
  return std::string(stop);
}

// Converse's usage: inputTokens leaves out what the prompt cache read or wrote; our prompt
// count holds every input token.
bool read_usage(const JsonValue &u, TokenUsage &out) {
  bool bad = false;
  int64_t input = int_member(u, "inputTokens", bad);
  int64_t read = member(u, "cacheReadInputTokens") ? int_member(u, "cacheReadInputTokens", bad) : 0;
  int64_t write = member(u, "cacheWriteInputTokens") ? int_member(u, "cacheWriteInputTokens", bad) : 0;
  out.prompt = input + read + write;
  out.cached = read;
  out.cache_write = write;
  out.completion = int_member(u, "outputTokens", bad);
  return bad;
}

bool titan_embed(std::string_view model) { return model.find("titan-embed-text") != std::string_view::npos; }
bool cohere_embed(std::string_view model) { return model.find("cohere.embed") != std::string_view::npos; }

std::string embedding_unsupported(const RequestSpec &req) {
  std::vector<std::string> texts;
  if (!embedding_texts(req, texts)) return "input: Bedrock embeds text, not token ids";
  if (!req.user.empty()) return "user is not a Bedrock parameter";
  if (titan_embed(req.model)) {
    if (texts.size() != 1)
      return "input: Titan embeds one text per request (send one request per input)";
    const bool v1 = req.model.find("-v1") != std::string::npos;
    if (req.dimensions > 0 && (v1 || (req.dimensions != 256 && req.dimensions != 512 &&
                                      req.dimensions != 1024)))
      return v1 ? "dimensions: Titan Text Embeddings v1 has 1536 and takes no dimensions"
                : "dimensions: Titan Text Embeddings v2 gives 256, 512 or 1024";
    return {};
  }
  if (cohere_embed(req.model)) {
    if (texts.size() > 96) return "input: Cohere Embed takes at most 96 texts per request";
    if (req.dimensions > 0) return "dimensions: Cohere Embed v3 has 1024 and takes no dimensions";
    return {};
  }
  return "model: Bedrock embeddings are served for Amazon Titan Text Embeddings and Cohere "
         "Embed models (\"" + req.model + "\" is neither)";
}

void build_embedding_body(const RequestSpec &req, JsonWriter &w) {
  std::vector<std::string> texts;
  embedding_texts(req, texts);
  w.StartObject();
  if (titan_embed(req.model)) {
    w.Key("inputText");
    write_str(w, texts.empty() ? std::string() : texts[0]);
    if (req.dimensions > 0) {
      w.Key("dimensions");
      w.Int64(req.dimensions);
    }
  } else {
    w.Key("texts");
    w.StartArray();
    for (const std::string &t : texts) write_str(w, t);
    w.EndArray();
    w.Key("input_type");  // documents to search, the common case of a batch of texts
    w.String("search_document");
  }
  w.EndObject();
}

// {"embedding": [...], "inputTextTokenCount"} (Titan) or {"embeddings": [[...]...] or
// {"float": [[...]...]}} (Cohere v3 / with embedding_types).
bool parse_embeddings(const JsonValue &doc, ProviderReply &out, std::string &error) {
  out.finish_reason = "stop";
  if (const JsonValue *one = member(doc, "embedding")) {
    out.embeddings.assign(1, {});
    if (!read_float_list(*one, 0, out.embeddings[0], error)) return false;
    if (member(doc, "inputTextTokenCount")) {
      bool bad = false;
      out.has_usage = true;
      out.usage.prompt = int_member(doc, "inputTextTokenCount", bad);
      out.usage_read(bad);
    }
    return true;
  }
  const JsonValue *list = member(doc, "embeddings");
  if (list && list->IsObject()) list = member(*list, "float");
  if (!list || !list->IsArray() || list->Empty()) {
    error = "the reply has no embeddings";
    return false;
  }
  out.embeddings.assign(list->Size(), {});
  for (size_t i = 0; i < out.embeddings.size(); ++i)
    if (!read_float_list((*list)[rapidjson::SizeType(i)], i, out.embeddings[i], error)) return false;
  return true;  // the count comes in a header (read_header)
}

}  // namespace

BedrockProvider::BedrockProvider(const Config &config)
    : base_(config.base_url + "/model/"),
      sigv4_("aws:amz:" + config.aws_region + ":bedrock"),
      access_key_(config.aws_access_key_id),
      secret_key_(config.aws_secret_access_key),
      default_max_tokens_(config.default_max_output_tokens) {
  RequestSpec probe;
  probe.model = config.model;
  url_ = request_url(probe);
  try {
    append_header(headers_, "Content-Type: application/json");
    append_header(headers_, "Accept: application/json");
    append_header(headers_, "Expect:");
    // Temporary credentials: the token goes with every request and is signed with it.
    if (!config.aws_session_token.empty())
      append_header(headers_, "x-amz-security-token: " + config.aws_session_token);
    append_config_headers(headers_, config);
  } catch (...) {
    curl_slist_free_all(headers_);
    throw;
  }
}

BedrockProvider::~BedrockProvider() { curl_slist_free_all(headers_); }

void BedrockProvider::configure_handle(void *easy) const {
  CURL *e = static_cast<CURL *>(easy);
  curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(e, CURLOPT_USERNAME, access_key_.c_str());
  curl_easy_setopt(e, CURLOPT_PASSWORD, secret_key_.c_str());
}

std::string BedrockProvider::request_url(const RequestSpec &req) const {
  // Model ids carry ':' ("anthropic.claude-3-5-haiku-20241022-v1:0") and ARNs '/': one
  // path segment, percent-encoded.
  char *escaped = curl_easy_escape(nullptr, req.model.data(), int(req.model.size()));
  std::string url = base_ + (escaped ? escaped : "");
  curl_free(escaped);
  url += req.embedding ? "/invoke" : req.stream ? "/converse-stream" : "/converse";
  return url;
}

int64_t BedrockProvider::output_bound(const RequestSpec &req) const {
  return req.max_output_tokens > 0 ? req.max_output_tokens : default_max_tokens_;
}

std::string BedrockProvider::unsupported(const RequestSpec &req) const {
  if (req.model.empty()) return "model: Bedrock needs a model id";
  if (req.embedding) return embedding_unsupported(req);
  if (!req.previous_response_id.empty())
    return "previous_response_id is an OpenAI Responses feature; Bedrock takes the whole "
           "conversation in messages";
  if (!req.reasoning_effort.empty()) return "reasoning_effort is not a Bedrock Converse parameter";
  if (req.seed) return "seed is not a Bedrock Converse parameter";
  if (has_audio(req)) return "Bedrock Converse takes no audio input here";
  if (req.frequency_penalty || req.presence_penalty)
    return "frequency_penalty and presence_penalty are not Bedrock Converse parameters";
  if (!req.logit_bias_json.empty()) return "logit_bias is not a Bedrock Converse parameter";
  if (req.n > 1) return "Bedrock Converse makes one answer per request (n above 1)";
  if (req.logprobs) return "Bedrock Converse returns no log probabilities";
  if (req.json_mode)
    return "Bedrock has no JSON mode: give a json_schema (structured output) instead";
  if (!req.service_tier.empty()) return "service_tier is not a Bedrock Converse parameter";
  if (!req.prompt_cache_key.empty()) return "prompt_cache_key is not a Bedrock parameter";
  if (req.top_k)
    return "top_k is not a Converse parameter (give it in extra_body's "
           "additionalModelRequestFields, in the model's own terms)";
  if (req.thinking_budget > 0)
    return "thinking is not mapped for Bedrock (give it in extra_body's "
           "additionalModelRequestFields)";
  if (!req.user.empty()) return "user is not a Bedrock Converse parameter";
  if (req.tool_choice == ToolChoice::kNone)
    return "Bedrock Converse has no tool_choice none (leave the tools out instead)";
  if (req.parallel_tool_calls && !*req.parallel_tool_calls)
    return "parallel_tool_calls is not a Bedrock Converse parameter";
  if (req.schema && find_tool(req, req.schema_name))
    return "a tool is named like the json_schema (\"" + req.schema_name +
           "\"), which Bedrock receives as a tool too: rename one";
  if (std::string why = arguments_not_objects(req); !why.empty()) return why;
  bool seen_turn = false;
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const Message &m = req.messages[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    for (size_t j = 0; j < m.parts.size(); ++j) {
      const ContentPart &p = m.parts[j];
      if (!p.cache_control_json.empty())
        return where + ": cache_control is Anthropic's; Bedrock's cache points are not mapped";
      std::string_view format, data;
      if (p.type == ContentPart::Type::kImageUrl && !image_parts(p.url, format, data))
        return where + ".content[" + std::to_string(j) + "]: Bedrock takes images as base64 " +
               "data: URLs of image/png, image/jpeg, image/gif or image/webp";
      if (is_system(m) && p.type != ContentPart::Type::kText)
        return where + ": Bedrock takes only text in system prompts";
    }
    if (is_system(m)) continue;
    if (!seen_turn && m.role != "user")
      return where + ": Bedrock needs the conversation to start with a user message";
    seen_turn = true;
  }
  if (!seen_turn) return "messages: Bedrock needs at least one user message";
  return {};
}

void BedrockProvider::build_body(const RequestSpec &req, JsonBuffer &out) const {
  JsonWriter w(out);
  if (req.embedding) return build_embedding_body(req, w);
  w.StartObject();
  w.Key("messages");
  w.StartArray();
  // Turns alternate: tool results travel as a user turn, and consecutive messages of one
  // role (tool results, then the user's words) become one turn.
  std::string open_role;
  for (const Message &m : req.messages) {
    if (is_system(m)) continue;
    std::string role = m.role == "tool" ? "user" : m.role;
    if (role != open_role) {
      if (!open_role.empty()) {
        w.EndArray();
        w.EndObject();
      }
      w.StartObject();
      w.Key("role");
      write_str(w, role);
      w.Key("content");
      w.StartArray();
      open_role = role;
    }
    write_blocks(w, m);
  }
  if (!open_role.empty()) {
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  bool system = !req.instructions.empty();
  for (const Message &m : req.messages) system |= is_system(m);
  if (system) {
    w.Key("system");
    w.StartArray();
    if (!req.instructions.empty()) write_text_block(w, req.instructions);
    for (const Message &m : req.messages)
      if (is_system(m))
        for (const ContentPart &p : m.parts) write_text_block(w, p.text);
    w.EndArray();
  }
  w.Key("inferenceConfig");
  w.StartObject();
  w.Key("maxTokens");
  w.Int64(output_bound(req));
  if (req.temperature) {
    w.Key("temperature");
    w.Double(*req.temperature);
  }
  if (req.top_p) {
    w.Key("topP");
    w.Double(*req.top_p);
  }
  if (!req.stop.empty()) {
    w.Key("stopSequences");
    w.StartArray();
    for (const std::string &s : req.stop) write_str(w, s);
    w.EndArray();
  }
  w.EndObject();
  if (!req.tools.empty() || req.schema) {
    // Structured output is one more tool whose input is the document.
    w.Key("toolConfig");
    w.StartObject();
    w.Key("tools");
    w.StartArray();
    for (const ToolDef &t : req.tools) write_tool_spec(w, t.name, t.description, t.parameters_json);
    if (req.schema)
      write_tool_spec(w, req.schema_name,
                      req.schema_description.empty()
                          ? "Give the answer as this tool's input, which must match its schema."
                          : req.schema_description,
                      req.schema_json);
    w.EndArray();
    std::string_view choice;  // structured output alone forces its tool; beside others, any
    switch (req.tool_choice) {
      case ToolChoice::kDefault: choice = !req.schema ? "" : req.tools.empty() ? "tool" : "any"; break;
      case ToolChoice::kAuto: choice = "auto"; break;
      case ToolChoice::kRequired: choice = "any"; break;
      case ToolChoice::kNamed: choice = "tool"; break;
      case ToolChoice::kNone: break;
    }
    if (!choice.empty()) {
      w.Key("toolChoice");
      w.StartObject();
      write_key(w, choice);
      w.StartObject();
      if (choice == "tool") {
        w.Key("name");
        write_str(w, req.tool_choice == ToolChoice::kNamed ? req.tool_choice_name : req.schema_name);
      }
      w.EndObject();
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
}

int64_t BedrockProvider::estimate_prompt_tokens(const RequestSpec &req) const {
  if (req.embedding) return req.input_tokens;
  auto image = [](const ContentPart &) { return kImageTokensAnthropic; };
  int64_t total = estimate_messages(req.messages, image) + tool_tokens(req);
  if (!req.instructions.empty()) total += 4 + text_tokens(req.instructions.size());
  if (req.schema) total += 8 + text_tokens(req.schema_name.size() + req.schema_json.size());
  return total;
}

bool BedrockProvider::parse_reply(std::string_view body, ProviderReply &out,
                                  std::string &error) const {
  ScratchDoc scratch;
  if (!parse_object(scratch, body, "the reply", error)) return false;
  JsonDoc &doc = scratch.doc();
  if (!doc.HasMember("output") && (doc.HasMember("embedding") || doc.HasMember("embeddings")))
    return parse_embeddings(doc, out, error);
  const JsonValue *output = member(doc, "output");
  const JsonValue *message = output ? member(*output, "message") : nullptr;
  const JsonValue *content = message ? member(*message, "content") : nullptr;
  if (!content || !content->IsArray()) {
    error = "the reply has no output.message.content array";
    return false;
  }
  for (const JsonValue &block : content->GetArray()) {
    if (!block.IsObject()) continue;
    if (const JsonValue *text = member(block, "text"); text && text->IsString()) {
      out.text += sv(*text);
    } else if (const JsonValue *use = member(block, "toolUse"); use && use->IsObject()) {
      const JsonValue *input = member(*use, "input");
      out.tool_calls.push_back({str_member(*use, "toolUseId"), str_member(*use, "name"),
                                input ? json_text(*input) : "{}"});
    } else if (const JsonValue *r = member(block, "reasoningContent"); r && r->IsObject()) {
      if (const JsonValue *t = member(*r, "reasoningText"); t && t->IsObject())
        out.thinking += str_member(*t, "text");
    }
  }
  out.finish_reason = finish_reason(str_member(doc, "stopReason"));
  if (!out.tool_calls.empty()) out.finish_reason = "tool_calls";
  if (const JsonValue *u = member(doc, "usage"); u && u->IsObject()) {
    out.has_usage = true;
    out.usage_read(read_usage(*u, out.usage));
  }
  return true;
}

bool BedrockProvider::on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                                      ProviderError &error) const {
  if (ev.name == StreamEvent::kMalformed) {
    error.message = ev.data;
    return false;
  }
  if (ev.name.rfind("exception:", 0) == 0) {
    // An exception in the stream: its type, and its message from the payload.
    error = parse_error(ev.data);
    error.type = ev.name.substr(10);
    if (error.message.empty()) error.message = error.type;
    return false;
  }
  ScratchDoc scratch;
  if (!parse_object(scratch, ev.data, "a stream event", error.message)) return false;
  JsonDoc &doc = scratch.doc();
  const JsonValue *index = member(doc, "contentBlockIndex");
  const int64_t key = index && index->IsInt64() ? index->GetInt64() : -1;
  if (ev.name == "contentBlockDelta") {
    const JsonValue *d = member(doc, "delta");
    if (!d || !d->IsObject()) return true;
    if (const JsonValue *text = member(*d, "text"); text && text->IsString()) {
      delta = std::string(sv(*text));
    } else if (const JsonValue *use = member(*d, "toolUse"); use && use->IsObject()) {
      st.tool_piece(key, "", "", str_member(*use, "input"));
    } else if (const JsonValue *r = member(*d, "reasoningContent"); r && r->IsObject()) {
      st.reply.thinking += str_member(*r, "text");
    }
  } else if (ev.name == "contentBlockStart") {
    const JsonValue *start = member(doc, "start");
    const JsonValue *use = start ? member(*start, "toolUse") : nullptr;
    if (use && use->IsObject())
      st.tool_piece(key, str_member(*use, "toolUseId"), str_member(*use, "name"), "");
  } else if (ev.name == "messageStop") {
    st.reply.finish_reason = finish_reason(str_member(doc, "stopReason"));
    if (!st.reply.tool_calls.empty()) st.reply.finish_reason = "tool_calls";
    st.done = true;
  } else if (ev.name == "metadata") {
    // After messageStop: usage for the whole reply.
    if (const JsonValue *u = member(doc, "usage"); u && u->IsObject()) {
      st.reply.has_usage = true;
      st.reply.usage_read(read_usage(*u, st.reply.usage));
    }
  }
  return true;
}

ProviderError BedrockProvider::parse_error(std::string_view body) const {
  // {"message": "..."}; some services name the exception in "__type" as well.
  ProviderError e;
  ScratchDoc scratch;
  std::string ignored;
  if (!parse_object(scratch, body, "the error", ignored)) return e;
  JsonDoc &doc = scratch.doc();
  e.message = str_member(doc, "message");
  if (e.message.empty()) e.message = str_member(doc, "Message");
  std::string type = str_member(doc, "__type");
  e.type = type.substr(type.rfind('#') == std::string::npos ? 0 : type.rfind('#') + 1);
  return e;
}

void BedrockProvider::read_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                                  ResponseHeaders &out) const {
  if (name == "x-amzn-requestid") out.request_id = std::string(value);
  else if (name == "x-amzn-bedrock-input-token-count") out.input_tokens = parse_count(value);
  else read_retry_header(name, value, wall_now_ms, out);
}

}  // namespace llmsvc
