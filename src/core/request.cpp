#include "core/request.h"
#include "core/tokens.h"
#include "llmsvc.h"

namespace llmsvc {

bool valid_traceparent(std::string_view t) {
  // 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 (W3C Trace Context, level 1).
  if (t.size() != 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
  auto hex = [&](size_t from, size_t n, bool &zero) {
    zero = true;
    for (size_t i = from; i < from + n; ++i) {
      char c = t[i];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
      zero &= c == '0';
    }
    return true;
  };
  bool z;
  if (!hex(0, 2, z) || t.substr(0, 2) == "ff") return false;
  if (!hex(3, 32, z) || z) return false;
  if (!hex(36, 16, z) || z) return false;
  return hex(53, 2, z);
}
namespace {

// Names of tools and structured-output schemas: 1 to 64 letters, digits, _ or -.
bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

bool parse_cache_control(const ObjectReader &r, const std::string &path, std::string &out,
                         DocError &err);

bool parse_part(const JsonValue &v, const std::string &path, ContentPart &part, DocError &err) {
  if (!v.IsObject()) {
    err = {LLMSVC_ESCHEMA, path + ": expected a content part object, got " + json_type_name(v)};
    return false;
  }
  ObjectReader r(v, path);
  std::string type;
  if (!r.get_string("type", type, err)) return false;
  if (type == "text") {
    static const char *const known[] = {"type", "text", "cache_control", nullptr};
    if (!r.only(known, err) || !parse_cache_control(r, path, part.cache_control_json, err))
      return false;
    const JsonValue *t = r.find("text");
    if (!t) return r.fail(err, path + ".text: missing");
    if (!r.get_string("text", part.text, err)) return false;
    part.type = ContentPart::Type::kText;
    return true;
  }
  if (type == "image_url") {
    static const char *const known[] = {"type", "image_url", nullptr};
    if (!r.only(known, err)) return false;
    const JsonValue *img = r.find("image_url");
    if (!img) return r.fail(err, path + ".image_url: missing");
    ObjectReader ir(*img, path + ".image_url");
    if (img->IsString()) {
      part.url.assign(img->GetString(), img->GetStringLength());
    } else if (img->IsObject()) {
      static const char *const iknown[] = {"url", "detail", nullptr};
      if (!ir.only(iknown, err) || !ir.get_string("url", part.url, err) ||
          !ir.get_string("detail", part.detail, err))
        return false;
    } else {
      return r.fail(err, path + ".image_url: expected a URL string or {\"url\": ...}");
    }
    if (part.url.empty()) return r.fail(err, path + ".image_url.url: missing or empty");
    if (!part.detail.empty() && part.detail != "auto" && part.detail != "low" &&
        part.detail != "high")
      return r.fail(err, path + ".image_url.detail: expected auto, low or high");
    part.type = ContentPart::Type::kImageUrl;
    return true;
  }
  if (type == "image") {
    // Image bytes with their media type: carried on as a data: URL, which every provider
    // maps to its own base64 form.
    static const char *const known[] = {"type", "data", "media_type", "detail", nullptr};
    std::string media;
    if (!r.only(known, err) || !r.get_string("data", part.data, err) ||
        !r.get_string("media_type", media, err) || !r.get_string("detail", part.detail, err))
      return false;
    if (part.data.empty()) return r.fail(err, path + ".data: missing or empty (base64 bytes)");
    if (media.rfind("image/", 0) != 0)
      return r.fail(err, path + ".media_type: expected image/png, image/jpeg, image/gif or image/webp");
    part.url = "data:" + media + ";base64," + part.data;
    std::string().swap(part.data);
    part.type = ContentPart::Type::kImageUrl;
    return true;
  }
  if (type == "thinking") {
    // A provider's reasoning in an earlier assistant turn, with its signature, sent back
    // unchanged in a tool round (Anthropic requires it; the others leave it out).
    static const char *const known[] = {"type", "thinking", "signature", nullptr};
    if (!r.only(known, err) || !r.get_string("thinking", part.text, err) ||
        !r.get_string("signature", part.data, err))
      return false;
    if (part.data.empty()) return r.fail(err, path + ".signature: missing (the provider's, as it came)");
    part.type = ContentPart::Type::kThinking;
    return true;
  }
  if (type == "audio") {
    static const char *const known[] = {"type", "data", "format", nullptr};
    if (!r.only(known, err) || !r.get_string("data", part.data, err) ||
        !r.get_string("format", part.format, err))
      return false;
    if (part.data.empty()) return r.fail(err, path + ".data: missing or empty (base64 bytes)");
    if (part.format != "wav" && part.format != "mp3")
      return r.fail(err, path + ".format: expected wav or mp3");
    part.type = ContentPart::Type::kAudio;
    return true;
  }
  if (type.empty()) return r.fail(err, path + ".type: missing");
  return r.fail(err, path + ".type: unknown content part type \"" + type +
                         "\" (expected text, image_url, image, audio or thinking)");
}

// {"type": "ephemeral", "ttl": "5m" | "1h"}, kept as given for Anthropic.
bool parse_cache_control(const ObjectReader &r, const std::string &path, std::string &out,
                         DocError &err) {
  const JsonValue *cc = r.find("cache_control");
  if (!cc) return true;
  if (!cc->IsObject()) return r.fail(err, path + ".cache_control: expected an object");
  ObjectReader cr(*cc, path + ".cache_control");
  static const char *const known[] = {"type", "ttl", nullptr};
  std::string type, ttl;
  if (!cr.only(known, err) || !cr.get_string("type", type, err) || !cr.get_string("ttl", ttl, err))
    return false;
  if (type != "ephemeral") return r.fail(err, path + ".cache_control.type: expected \"ephemeral\"");
  if (!ttl.empty() && ttl != "5m" && ttl != "1h")
    return r.fail(err, path + ".cache_control.ttl: expected \"5m\" or \"1h\"");
  out = json_text(*cc);
  return true;
}

// One entry of an assistant message's tool_calls, in OpenAI's shape:
// {"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}.
bool parse_tool_call(const JsonValue &v, const std::string &path, ToolCall &call, DocError &err) {
  if (!v.IsObject()) {
    err = {LLMSVC_ESCHEMA, path + ": expected a tool call object, got " + json_type_name(v)};
    return false;
  }
  ObjectReader r(v, path);
  static const char *const known[] = {"id", "type", "function", nullptr};
  std::string type = "function";
  const JsonValue *fn = nullptr;
  if (!r.only(known, err) || !r.get_string("id", call.id, err) ||
      !r.get_string("type", type, err) || !r.get_object("function", fn, err))
    return false;
  if (call.id.empty()) return r.fail(err, path + ".id: missing");
  if (type != "function") return r.fail(err, path + ".type: expected \"function\"");
  if (!fn) return r.fail(err, path + ".function: missing");
  ObjectReader fr(*fn, path + ".function");
  static const char *const fknown[] = {"name", "arguments", nullptr};
  if (!fr.only(fknown, err) || !fr.get_string("name", call.name, err)) return false;
  if (call.name.empty()) return r.fail(err, path + ".function.name: missing");
  const JsonValue *args = fr.find("arguments");
  if (!args) return r.fail(err, path + ".function.arguments: missing");
  if (args->IsString()) {
    call.arguments.assign(args->GetString(), args->GetStringLength());
  } else if (args->IsObject()) {  // written as an object: sent as its JSON text
    call.arguments = json_text(*args);
  } else {
    return r.fail(err, path + ".function.arguments: expected the arguments' JSON text (a string)");
  }
  return true;
}

bool parse_message(const JsonValue &v, const std::string &path, Message &m, DocError &err) {
  if (!v.IsObject()) {
    err = {LLMSVC_ESCHEMA, path + ": expected a message object, got " + json_type_name(v)};
    return false;
  }
  ObjectReader r(v, path);
  static const char *const known[] = {"role", "content", "name", "tool_calls", "tool_call_id",
                                      nullptr};
  if (!r.only(known, err) || !r.get_string("role", m.role, err) ||
      !r.get_string("name", m.name, err) || !r.get_string("tool_call_id", m.tool_call_id, err))
    return false;
  if (m.role.empty()) return r.fail(err, path + ".role: missing");
  if (m.role != "system" && m.role != "developer" && m.role != "user" && m.role != "assistant" &&
      m.role != "tool")
    return r.fail(err, path + ".role: \"" + m.role +
                           "\" is not one of system, developer, user, assistant, tool");
  if (m.role == "tool" && m.tool_call_id.empty())
    return r.fail(err, path + ".tool_call_id: missing (a tool message answers one tool call)");
  if (m.role != "tool" && r.find("tool_call_id"))
    return r.fail(err, path + ".tool_call_id: only tool messages answer a tool call");
  if (const JsonValue *calls = r.find("tool_calls")) {
    if (m.role != "assistant")
      return r.fail(err, path + ".tool_calls: only assistant messages carry tool calls");
    if (!calls->IsArray() || calls->Empty())
      return r.fail(err, path + ".tool_calls: expected a non-empty array");
    m.tool_calls.resize(calls->Size());
    for (rapidjson::SizeType i = 0; i < calls->Size(); ++i)
      if (!parse_tool_call((*calls)[i], path + ".tool_calls[" + std::to_string(i) + "]",
                           m.tool_calls[i], err))
        return false;
  }
  const JsonValue *c = r.find("content");
  if (!c) {
    // An assistant message that only calls tools has no content (or null).
    if (!m.tool_calls.empty()) return true;
    return r.fail(err, path + ".content: missing");
  }
  if (c->IsString()) {
    m.content_is_string = true;
    if (c->GetStringLength() == 0 && !m.tool_calls.empty()) return true;
    m.parts.emplace_back();
    m.parts.back().text.assign(c->GetString(), c->GetStringLength());
    return true;
  }
  if (!c->IsArray())
    return r.fail(err, path + ".content: expected a string or an array of parts, got " +
                           json_type_name(*c));
  if (c->Empty()) return r.fail(err, path + ".content: empty array");
  m.content_is_string = false;
  m.parts.resize(c->Size());
  for (rapidjson::SizeType i = 0; i < c->Size(); ++i) {
    if (!parse_part((*c)[i], path + ".content[" + std::to_string(i) + "]", m.parts[i], err))
      return false;
  }
  for (const auto &p : m.parts) {
    if (p.type == ContentPart::Type::kThinking && m.role != "assistant")
      return r.fail(err, path + ".content: only assistant messages carry thinking");
    if ((p.type == ContentPart::Type::kImageUrl || p.type == ContentPart::Type::kAudio) &&
        m.role != "user")
      return r.fail(err, path + ".content: only user messages may carry images or audio");
  }
  return true;
}

// The tools a request offers: OpenAI Chat Completions' shape
// {"type": "function", "function": {"name", "description", "parameters", "strict"}} or the
// Responses API's flat {"type": "function", "name", ...}; "cache_control" for Anthropic.
bool parse_tool(const JsonValue &v, const std::string &path, ToolDef &t, DocError &err) {
  if (!v.IsObject()) {
    err = {LLMSVC_ESCHEMA, path + ": expected a tool object, got " + json_type_name(v)};
    return false;
  }
  ObjectReader outer(v, path);
  std::string type;
  if (!outer.get_string("type", type, err)) return false;
  if (type != "function")
    return outer.fail(err, path + ".type: expected \"function\" (function tools are what every "
                                  "provider takes)");
  const JsonValue *fn = outer.find("function");
  const JsonValue &body = fn ? *fn : v;
  std::string at = fn ? path + ".function" : path;
  if (fn) {
    static const char *const known[] = {"type", "function", "cache_control", nullptr};
    if (!outer.only(known, err)) return false;
    if (!fn->IsObject()) return outer.fail(err, at + ": expected an object");
  }
  ObjectReader r(body, at);
  static const char *const fknown[] = {"type", "name", "description", "parameters", "strict",
                                       "cache_control", nullptr};
  static const char *const nested[] = {"name", "description", "parameters", "strict", nullptr};
  bool strict = false;
  if (!r.only(fn ? nested : fknown, err) || !r.get_string("name", t.name, err) ||
      !r.get_string("description", t.description, err))
    return false;
  if (r.find("strict")) {
    if (!r.get_bool("strict", strict, err)) return false;
    t.strict = strict;
  }
  if (!valid_name(t.name))
    return r.fail(err, at + ".name: use 1 to 64 letters, digits, _ or -");
  const JsonValue *params = nullptr;
  if (!r.get_object("parameters", params, err)) return false;
  if (params) {
    std::string why;
    t.parameters = JsonSchema::compile(*params, why);
    if (!t.parameters) return r.fail(err, at + ".parameters: " + why);
    t.parameters_json = json_text(*params);
  }
  return parse_cache_control(outer, path, t.cache_control_json, err);
}

bool parse_tool_choice(const JsonValue *v, RequestSpec &out, DocError &err) {
  if (!v) return true;
  const std::string path = "request.tool_choice";
  if (v->IsString()) {
    std::string_view s = sv(*v);
    if (s == "auto") out.tool_choice = ToolChoice::kAuto;
    else if (s == "none") out.tool_choice = ToolChoice::kNone;
    else if (s == "required") out.tool_choice = ToolChoice::kRequired;
    else {
      err = {LLMSVC_ESCHEMA, path + ": \"" + std::string(s) +
                                 "\" is not one of auto, none, required or a named tool"};
      return false;
    }
  } else if (v->IsObject()) {
    // {"type": "function", "function": {"name": X}} or {"type": "function", "name": X}.
    ObjectReader r(*v, path);
    static const char *const known[] = {"type", "function", "name", nullptr};
    std::string type;
    if (!r.only(known, err) || !r.get_string("type", type, err) ||
        !r.get_string("name", out.tool_choice_name, err))
      return false;
    if (type != "function") return r.fail(err, path + ".type: expected \"function\"");
    if (const JsonValue *fn = r.find("function")) {
      ObjectReader fr(*fn, path + ".function");
      static const char *const fknown[] = {"name", nullptr};
      if (!fn->IsObject()) return r.fail(err, path + ".function: expected an object");
      if (!fr.only(fknown, err) || !fr.get_string("name", out.tool_choice_name, err)) return false;
    }
    if (out.tool_choice_name.empty()) return r.fail(err, path + ": names no tool");
    if (!find_tool(out, out.tool_choice_name))
      return r.fail(err, path + ": names \"" + out.tool_choice_name +
                             "\", which request.tools does not offer");
    out.tool_choice = ToolChoice::kNamed;
  } else {
    err = {LLMSVC_ESCHEMA, path + ": expected a string or an object, got " + json_type_name(*v)};
    return false;
  }
  if (out.tools.empty() && out.tool_choice != ToolChoice::kNone)
    return ObjectReader(*v, path).fail(err, path + ": given without request.tools");
  return true;
}

// Each tool message answers a call an earlier assistant message made (unless the
// conversation continues a stored response, which holds the calls).
bool check_tool_rounds(const RequestSpec &req, DocError &err) {
  if (!req.previous_response_id.empty()) return true;
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const Message &m = req.messages[i];
    if (m.role != "tool") continue;
    bool found = false;
    for (size_t j = 0; j < i && !found; ++j)
      for (const ToolCall &c : req.messages[j].tool_calls) found |= c.id == m.tool_call_id;
    if (!found) {
      err = {LLMSVC_ESCHEMA, "request.messages[" + std::to_string(i) + "].tool_call_id: \"" +
                                 m.tool_call_id + "\" answers no tool call of an earlier assistant message"};
      return false;
    }
  }
  return true;
}

// {"name": bias} with token ids as names and biases in [-100, 100], kept as given.
bool parse_logit_bias(const ObjectReader &r, RequestSpec &out, DocError &err) {
  const JsonValue *lb = nullptr;
  if (!r.get_object("logit_bias", lb, err)) return false;
  if (!lb) return true;
  for (auto m = lb->MemberBegin(); m != lb->MemberEnd(); ++m) {
    std::string_view id = sv(m->name);
    bool digits = !id.empty() && id.size() <= 10 &&
                  id.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits)
      return r.fail(err, "request.logit_bias: \"" + std::string(id) + "\" is not a token id");
    if (!m->value.IsNumber() || m->value.GetDouble() < -100 || m->value.GetDouble() > 100)
      return r.fail(err, "request.logit_bias." + std::string(id) +
                             ": expected a number from -100 to 100");
  }
  out.logit_bias_json = json_text(*lb);
  return true;
}

// A header a request or a configuration may add: never one that carries or replaces the
// credentials, or frames the request.
std::string header_problem(std::string_view name, std::string_view value) {
  if (name.empty() || name.size() > 128 ||
      name.find_first_of(" \t\r\n:") != std::string_view::npos)
    return "is not a header name";
  if (value.find_first_of("\r\n") != std::string_view::npos) return "has a line break in its value";
  std::string lower(name);
  for (char &c : lower) c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const char *reserved : {"authorization", "x-api-key", "api-key", "proxy-authorization",
                               "cookie", "host", "content-length", "content-type",
                               "transfer-encoding", "connection", "expect"})
    if (lower == reserved) return "is set by the library (credentials and framing cannot be replaced)";
  return "";
}

bool parse_priority(const JsonValue *v, int &out, DocError &err) {
  if (!v) return true;
  if (v->IsString()) {
    std::string_view s = sv(*v);
    if (s == "high") out = kPriorityHigh;
    else if (s == "normal") out = kPriorityNormal;
    else if (s == "low") out = kPriorityLow;
    else {
      err = {LLMSVC_ESCHEMA, "request.priority: \"" + std::string(s) +
                                 "\" is not one of high, normal, low"};
      return false;
    }
    return true;
  }
  if (v->IsInt() && v->GetInt() >= kPriorityHigh && v->GetInt() <= kPriorityLow) {
    out = v->GetInt();
    return true;
  }
  err = {LLMSVC_ESCHEMA, "request.priority: expected \"high\", \"normal\", \"low\" or 0..2"};
  return false;
}


bool parse_json_schema(const JsonValue &v, RequestSpec &out, DocError &err) {
  if (!v.IsObject()) {
    err = {LLMSVC_ESCHEMA, std::string("request.json_schema: expected an object, got ") +
                               json_type_name(v)};
    return false;
  }
  ObjectReader r(v, "request.json_schema");
  static const char *const known[] = {"name", "schema", "strict", "description", nullptr};
  std::string name = "response";
  if (!r.only(known, err) || !r.get_string("name", name, err) ||
      !r.get_bool("strict", out.schema_strict, err) ||
      !r.get_string("description", out.schema_description, err))
    return false;
  if (!valid_name(name))
    return r.fail(err, "request.json_schema.name: use 1 to 64 letters, digits, _ or -");
  const JsonValue *schema = nullptr;
  if (!r.get_object("schema", schema, err)) return false;
  if (!schema) return r.fail(err, "request.json_schema.schema: missing");
  std::string why;
  out.schema = JsonSchema::compile(*schema, why);
  if (!out.schema) return r.fail(err, "request.json_schema.schema: " + why);
  out.schema_json = json_text(*schema);
  out.schema_name = std::move(name);
  return true;
}

}  // namespace

const ToolDef *find_tool(const RequestSpec &req, std::string_view name) {
  for (const ToolDef &t : req.tools)
    if (t.name == name) return &t;
  return nullptr;
}

DocError parse_headers(const JsonValue &v, const std::string &path,
                       std::vector<std::pair<std::string, std::string>> &out) {
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, path + ": expected an object of header names and values"};
  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
    std::string name(sv(m->name));
    if (!m->value.IsString())
      return {LLMSVC_ESCHEMA, path + "." + name + ": expected a string"};
    std::string value(sv(m->value));
    if (std::string why = header_problem(name, value); !why.empty())
      return {LLMSVC_ESCHEMA, path + "." + name + ": " + why};
    out.emplace_back(std::move(name), std::move(value));
  }
  return {};
}

bool has_audio(const RequestSpec &req) {
  for (const Message &m : req.messages)
    for (const ContentPart &p : m.parts)
      if (p.type == ContentPart::Type::kAudio) return true;
  return false;
}

namespace {

// Tools and the common parameters beyond the basic ones (docs/schema.md).
DocError parse_surface(const ObjectReader &r, RequestSpec &out) {
  DocError err;
  if (const JsonValue *tools = r.find("tools")) {
    if (!tools->IsArray()) return {LLMSVC_ESCHEMA, "request.tools: expected an array"};
    if (tools->Size() > 128) return {LLMSVC_ESCHEMA, "request.tools: at most 128 tools"};
    out.tools.resize(tools->Size());
    for (rapidjson::SizeType i = 0; i < tools->Size(); ++i) {
      if (!parse_tool((*tools)[i], "request.tools[" + std::to_string(i) + "]", out.tools[i], err))
        return err;
      for (rapidjson::SizeType j = 0; j < i; ++j)
        if (out.tools[j].name == out.tools[i].name)
          return {LLMSVC_ESCHEMA, "request.tools[" + std::to_string(i) + "]: a second tool named \"" +
                                      out.tools[i].name + "\""};
    }
  }
  if (!parse_tool_choice(r.find("tool_choice"), out, err)) return err;
  bool b = false;
  if (r.find("parallel_tool_calls")) {
    if (!r.get_bool("parallel_tool_calls", b, err)) return err;
    out.parallel_tool_calls = b;
  }
  if (!check_tool_rounds(out, err)) return err;
  double d = 0;
  bool present = false;
  if (!r.get_double("frequency_penalty", d, present, err, -2.0, 2.0)) return err;
  if (present) out.frequency_penalty = d;
  present = false;
  if (!r.get_double("presence_penalty", d, present, err, -2.0, 2.0)) return err;
  if (present) out.presence_penalty = d;
  if (!parse_logit_bias(r, out, err)) return err;
  if (!r.get_int("n", out.n, err, 1, 128) || !r.get_bool("logprobs", out.logprobs, err))
    return err;
  int64_t i = 0;
  if (r.find("top_logprobs")) {
    if (!r.get_int("top_logprobs", i, err, 0, 20)) return err;
    if (!out.logprobs) return {LLMSVC_ESCHEMA, "request.top_logprobs: needs \"logprobs\": true"};
    out.top_logprobs = i;
  }
  if (r.find("top_k")) {
    if (!r.get_int("top_k", i, err, 0, 1000000)) return err;
    out.top_k = i;
  }
  if (const JsonValue *rf = r.find("response_format")) {
    if (!rf->IsObject()) return {LLMSVC_ESCHEMA, "request.response_format: expected an object"};
    ObjectReader fr(*rf, "request.response_format");
    static const char *const known[] = {"type", "json_schema", nullptr};
    std::string type;
    if (!fr.only(known, err) || !fr.get_string("type", type, err)) return err;
    if (type == "json_object") {
      out.json_mode = true;
    } else if (type == "json_schema") {
      // OpenAI's form of structured output: the same as request.json_schema.
      const JsonValue *js = fr.find("json_schema");
      if (!js) return {LLMSVC_ESCHEMA, "request.response_format.json_schema: missing"};
      if (out.schema) return {LLMSVC_ESCHEMA, "request: give json_schema or response_format, not both"};
      if (!parse_json_schema(*js, out, err)) return err;
    } else if (type != "text") {
      return {LLMSVC_ESCHEMA, "request.response_format.type: \"" + type +
                                  "\" is not one of text, json_object, json_schema"};
    }
    if (out.json_mode && out.schema)
      return {LLMSVC_ESCHEMA, "request: give json_schema or a json_object response_format, not both"};
  }
  if (!r.get_string("service_tier", out.service_tier, err)) return err;
  if (!out.service_tier.empty() && out.service_tier != "auto" && out.service_tier != "default" &&
      out.service_tier != "flex" && out.service_tier != "priority")
    return {LLMSVC_ESCHEMA, "request.service_tier: \"" + out.service_tier +
                                "\" is not one of auto, default, flex, priority"};
  if (const JsonValue *th = r.find("thinking")) {
    if (!th->IsObject()) return {LLMSVC_ESCHEMA, "request.thinking: expected an object"};
    ObjectReader tr(*th, "request.thinking");
    static const char *const known[] = {"type", "budget_tokens", nullptr};
    std::string type;
    if (!tr.only(known, err) || !tr.get_string("type", type, err) ||
        !tr.get_int("budget_tokens", out.thinking_budget, err, 1024, INT32_MAX))
      return err;
    if (type == "disabled") out.thinking_budget = 0;
    else if (type != "enabled")
      return {LLMSVC_ESCHEMA, "request.thinking.type: expected \"enabled\" or \"disabled\""};
    else if (out.thinking_budget == 0)
      return {LLMSVC_ESCHEMA, "request.thinking.budget_tokens: missing (at least 1024)"};
    else if (out.max_output_tokens > 0 && out.thinking_budget >= out.max_output_tokens)
      return {LLMSVC_ESCHEMA, "request.thinking.budget_tokens: must be below max_output_tokens"};
  }
  if (!r.get_string("prompt_cache_key", out.prompt_cache_key, err)) return err;
  const JsonValue *extra = r.find("extra_body");
  if (extra) {
    if (!extra->IsObject())
      return {LLMSVC_ESCHEMA, std::string("request.extra_body: expected an object, got ") +
                                  json_type_name(*extra)};
    out.extra_body_json = json_text(*extra);
  }
  if (const JsonValue *h = r.find("extra_headers"))
    if (err = parse_headers(*h, "request.extra_headers", out.extra_headers); err) return err;
  return {};
}

}  // namespace

// An embeddings request's input, OpenAI's shapes: a string, a list of strings, a list of
// token ids, or a list of lists of token ids; at most 2048 inputs, none empty. The tokens a
// limiter counts: a string's estimate (ceil(bytes / 4)), a list of ids its length.
static DocError parse_embedding_input(const JsonValue &v, RequestSpec &out) {
  const std::string path = "request.input";
  const char *shape = ": expected a string, a list of strings, a list of token ids or a list "
                      "of lists of token ids";
  auto ids = [&](const JsonValue &list, const std::string &where) -> DocError {
    if (list.Empty()) return {LLMSVC_ESCHEMA, where + ": empty"};
    for (const JsonValue &t : list.GetArray())
      if (!t.IsInt64() || t.GetInt64() < 0)
        return {LLMSVC_ESCHEMA, where + ": expected token ids (integers from 0)"};
    out.input_tokens += int64_t(list.Size());
    return {};
  };
  out.embedding = true;
  if (v.IsString()) {
    if (v.GetStringLength() == 0) return {LLMSVC_ESCHEMA, path + ": empty"};
    out.inputs = 1;
    out.input_tokens = text_tokens(v.GetStringLength());
  } else if (v.IsArray()) {
    if (v.Empty()) return {LLMSVC_ESCHEMA, path + ": empty"};
    if (v.Size() > 2048)
      return {LLMSVC_ESCHEMA, path + ": " + std::to_string(v.Size()) +
                                  " inputs; at most 2048 in one request"};
    if (v[0].IsInt64()) {
      if (DocError e = ids(v, path)) return e;
      out.inputs = 1;
    } else {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        const std::string where = path + "[" + std::to_string(i) + "]";
        const JsonValue &item = v[i];
        if (item.IsString()) {
          if (item.GetStringLength() == 0) return {LLMSVC_ESCHEMA, where + ": empty"};
          if (!v[0].IsString()) return {LLMSVC_ESCHEMA, path + shape};
          out.input_tokens += text_tokens(item.GetStringLength());
        } else if (item.IsArray() && v[0].IsArray()) {
          if (DocError e = ids(item, where)) return e;
        } else {
          return {LLMSVC_ESCHEMA, path + shape};
        }
      }
      out.inputs = int64_t(v.Size());
    }
  } else {
    return {LLMSVC_ESCHEMA, path + shape};
  }
  out.input_json = json_text(v);
  return {};
}

DocError parse_request(std::string_view json, const std::string &default_model,
                       RequestSpec &out) {
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  DocError err = parse_json(doc, json, "request");
  if (err) return err;
  if (!doc.IsObject())
    return {LLMSVC_ESCHEMA, std::string("request: expected an object, got ") +
                                json_type_name(doc)};
  ObjectReader r(doc, "request");
  static const char *const known[] = {
      "model",    "messages", "prompt",   "instructions", "system",   "max_output_tokens",
      "max_tokens", "temperature", "top_p", "stop",       "seed",     "user",
      "operation", "priority", "timeout_ms", "metadata",  "trace_id", "traceparent", "tracestate", "id", "json_schema", "reasoning_effort", "previous_response_id", "stream", "cache",
      "tools", "tool_choice", "parallel_tool_calls", "frequency_penalty", "presence_penalty",
      "logit_bias", "n", "logprobs", "top_logprobs", "response_format", "service_tier", "top_k",
      "stop_sequences", "thinking", "prompt_cache_key", "extra_body", "extra_headers",
      "input", "dimensions", "encoding_format", nullptr};
  if (!r.only(known, err)) return err;
  if (!r.get_string("model", out.model, err)) return err;
  if (out.model.empty()) out.model = default_model;
  if (out.model.empty())
    return {LLMSVC_ESCHEMA, "request.model: missing (and the client has no default model)"};

  std::string system, prompt;
  if (!r.get_string("instructions", out.instructions, err) ||
      !r.get_string("system", system, err) || !r.get_string("prompt", prompt, err))
    return err;
  if (!system.empty()) {
    if (!out.instructions.empty())
      return {LLMSVC_ESCHEMA, "request: give instructions or system, not both"};
    out.instructions = std::move(system);
  }

  const JsonValue *msgs = r.find("messages");
  if (const JsonValue *input = r.find("input")) {
    if (msgs || !prompt.empty())
      return {LLMSVC_ESCHEMA, "request: give input (an embeddings request) or messages or "
                              "prompt, not both"};
    if (err = parse_embedding_input(*input, out); err) return err;
  } else if (r.find("dimensions") || r.find("encoding_format")) {
    return {LLMSVC_ESCHEMA, std::string("request.") +
                                (r.find("dimensions") ? "dimensions" : "encoding_format") +
                                ": only for an embeddings request (one with input)"};
  }
  if (out.embedding) {
    // What the provider's embeddings endpoint does not take.
    for (const char *name : {"instructions", "system", "max_output_tokens", "max_tokens",
                             "temperature", "top_p", "stop", "stop_sequences", "seed", "tools",
                             "tool_choice", "parallel_tool_calls", "frequency_penalty",
                             "presence_penalty", "logit_bias", "n", "logprobs", "top_logprobs",
                             "response_format", "json_schema", "service_tier", "top_k",
                             "thinking", "prompt_cache_key", "reasoning_effort",
                             "previous_response_id", "stream"})
      if (r.find(name))
        return {LLMSVC_ESCHEMA, std::string("request.") + name +
                                    ": not for an embeddings request (one with input)"};
    if (!r.get_int("dimensions", out.dimensions, err, 1, 1 << 16)) return err;
    std::string format;
    if (!r.get_string("encoding_format", format, err)) return err;
    if (!format.empty() && format != "float" && format != "base64")
      return {LLMSVC_ESCHEMA, "request.encoding_format: \"" + format +
                                  "\" is not float or base64 (the result always holds floats)"};
  } else if (msgs) {
    if (!prompt.empty()) return {LLMSVC_ESCHEMA, "request: give messages or prompt, not both"};
    if (!msgs->IsArray())
      return {LLMSVC_ESCHEMA, std::string("request.messages: expected an array, got ") +
                                  json_type_name(*msgs)};
    out.messages.resize(msgs->Size());
    for (rapidjson::SizeType i = 0; i < msgs->Size(); ++i) {
      if (!parse_message((*msgs)[i], "request.messages[" + std::to_string(i) + "]",
                         out.messages[i], err))
        return err;
    }
  } else if (!prompt.empty()) {
    out.messages.emplace_back();
    out.messages.back().role = "user";
    out.messages.back().parts.emplace_back();
    out.messages.back().parts.back().text = std::move(prompt);
  }
  if (out.messages.empty() && !out.embedding)
    return {LLMSVC_ESCHEMA, "request.messages: missing or empty (give messages or prompt, or "
                            "input for embeddings)"};

  int64_t max_out = -1, max_tokens = -1;
  if (!r.get_int("max_output_tokens", max_out, err, 1, INT32_MAX) ||
      !r.get_int("max_tokens", max_tokens, err, 1, INT32_MAX))
    return err;
  if (max_out > 0 && max_tokens > 0)
    return {LLMSVC_ESCHEMA, "request: give max_output_tokens or max_tokens, not both"};
  out.max_output_tokens = max_out > 0 ? max_out : max_tokens;

  double d = 0;
  bool present = false;
  if (!r.get_double("temperature", d, present, err, 0.0, 2.0)) return err;
  if (present) out.temperature = d;
  present = false;
  if (!r.get_double("top_p", d, present, err, 0.0, 1.0)) return err;
  if (present) out.top_p = d;

  const JsonValue *stop = r.find("stop");
  if (const JsonValue *seqs = r.find("stop_sequences")) {  // Anthropic's name for it
    if (stop) return {LLMSVC_ESCHEMA, "request: give stop or stop_sequences, not both"};
    stop = seqs;
  }
  if (stop) {
    if (stop->IsString()) {
      out.stop.emplace_back(stop->GetString(), stop->GetStringLength());
    } else if (stop->IsArray() && stop->Size() <= 4) {
      for (const auto &s : stop->GetArray()) {
        if (!s.IsString())
          return {LLMSVC_ESCHEMA, "request.stop: expected strings in the array"};
        out.stop.emplace_back(s.GetString(), s.GetStringLength());
      }
    } else {
      return {LLMSVC_ESCHEMA, "request.stop: expected a string or an array of up to 4 strings"};
    }
  }
  int64_t seed = 0;
  if (r.find("seed")) {
    if (!r.get_int("seed", seed, err, INT64_MIN, INT64_MAX)) return err;
    out.seed = seed;
  }
  if (!r.get_string("user", out.user, err) || !r.get_string("operation", out.operation, err) ||
      !r.get_string("trace_id", out.trace_id, err) ||
      !r.get_string("traceparent", out.traceparent, err) ||
      !r.get_string("tracestate", out.tracestate, err) ||
      !r.get_int("timeout_ms", out.timeout_ms, err, 0, int64_t(30) * 24 * 3600 * 1000))
    return err;
  if (!out.traceparent.empty()) {
    if (!valid_traceparent(out.traceparent))
      return {LLMSVC_ESCHEMA, "request.traceparent: expected the W3C form "
                              "VERSION-TRACEID-PARENTID-FLAGS in lowercase hex (2-32-16-2 digits, "
                              "ids not all zero, version not ff)"};
    // The trace's id names the request in results and events unless it has its own.
    if (out.trace_id.empty()) out.trace_id = out.traceparent.substr(3, 32);
  }
  if (out.tracestate.size() > 512 ||
      out.tracestate.find_first_of("\r\n") != std::string::npos)
    return {LLMSVC_ESCHEMA, "request.tracestate: expected at most 512 characters on one line"};
  if (!out.tracestate.empty() && out.traceparent.empty())
    return {LLMSVC_ESCHEMA, "request.tracestate: given without traceparent"};
  if (!parse_priority(r.find("priority"), out.priority, err)) return err;
  out.stream_given = r.find("stream") != nullptr;
  if (!r.get_bool("stream", out.stream, err) ||
      !r.get_string("reasoning_effort", out.reasoning_effort, err) ||
      !r.get_string("previous_response_id", out.previous_response_id, err))
    return err;
  if (!out.reasoning_effort.empty() && out.reasoning_effort != "minimal" &&
      out.reasoning_effort != "low" && out.reasoning_effort != "medium" &&
      out.reasoning_effort != "high")
    return {LLMSVC_ESCHEMA, "request.reasoning_effort: \"" + out.reasoning_effort +
                                "\" is not one of minimal, low, medium, high"};
  std::string cache;
  if (!r.get_string("cache", cache, err)) return err;
  if (cache == "use") out.cache = CacheMode::kUse;
  else if (cache == "refresh") out.cache = CacheMode::kRefresh;
  else if (cache == "bypass") out.cache = CacheMode::kBypass;
  else if (!cache.empty() && cache != "default")
    return {LLMSVC_ESCHEMA, "request.cache: \"" + cache +
                                "\" is not one of default, use, refresh, bypass"};
  const JsonValue *meta = nullptr;
  if (!r.get_object("metadata", meta, err)) return err;
  if (meta) {
    out.metadata_json = json_text(*meta);
  }
  if (const JsonValue *js = r.find("json_schema"); js && !parse_json_schema(*js, out, err))
    return err;
  if (err = parse_surface(r, out); err) return err;
  // "id" is the caller's own label (batch files); it is accepted and ignored here.
  if (const JsonValue *id = r.find("id"); id && !id->IsString() && !id->IsNumber())
    return {LLMSVC_ESCHEMA, "request.id: expected a string or a number"};
  if (out.operation.empty()) out.operation = "default";
  return {};
}

}  // namespace llmsvc
