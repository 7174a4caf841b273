#include "core/request.h"

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

bool parse_part(const JsonValue &v, const std::string &path, ContentPart &part, DocError &err) {
  if (!v.IsObject()) {
    err = {LLMSVC_ESCHEMA, path + ": expected a content part object, got " + json_type_name(v)};
    return false;
  }
  ObjectReader r(v, path);
  std::string type;
  if (!r.get_string("type", type, err)) return false;
  if (type == "text") {
    static const char *const known[] = {"type", "text", nullptr};
    if (!r.only(known, err)) return false;
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
                         "\" (expected text, image_url, image or audio)");
}

bool parse_message(const JsonValue &v, const std::string &path, Message &m, DocError &err) {
  if (!v.IsObject()) {
    err = {LLMSVC_ESCHEMA, path + ": expected a message object, got " + json_type_name(v)};
    return false;
  }
  ObjectReader r(v, path);
  static const char *const known[] = {"role", "content", "name", nullptr};
  if (!r.only(known, err) || !r.get_string("role", m.role, err) ||
      !r.get_string("name", m.name, err))
    return false;
  if (m.role.empty()) return r.fail(err, path + ".role: missing");
  if (m.role != "system" && m.role != "developer" && m.role != "user" && m.role != "assistant")
    return r.fail(err, path + ".role: \"" + m.role +
                           "\" is not one of system, developer, user, assistant");
  const JsonValue *c = r.find("content");
  if (!c) return r.fail(err, path + ".content: missing");
  if (c->IsString()) {
    m.content_is_string = true;
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
  if (m.role != "user") {
    for (const auto &p : m.parts)
      if (p.type != ContentPart::Type::kText)
        return r.fail(err, path + ".content: only user messages may carry images or audio");
  }
  return true;
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

bool valid_schema_name(const std::string &n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
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
  if (!valid_schema_name(name))
    return r.fail(err, "request.json_schema.name: use 1 to 64 letters, digits, _ or -");
  const JsonValue *schema = nullptr;
  if (!r.get_object("schema", schema, err)) return false;
  if (!schema) return r.fail(err, "request.json_schema.schema: missing");
  std::string why;
  out.schema = JsonSchema::compile(*schema, why);
  if (!out.schema) return r.fail(err, "request.json_schema.schema: " + why);
  JsonBuffer buf;
  JsonWriter w(buf);
  schema->Accept(w);
  out.schema_json.assign(buf.GetString(), buf.GetSize());
  out.schema_name = std::move(name);
  return true;
}

}  // namespace

bool has_audio(const RequestSpec &req) {
  for (const Message &m : req.messages)
    for (const ContentPart &p : m.parts)
      if (p.type == ContentPart::Type::kAudio) return true;
  return false;
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
      "operation", "priority", "timeout_ms", "metadata",  "trace_id", "traceparent", "tracestate", "id", "json_schema", "reasoning_effort", "previous_response_id", "stream", "cache", nullptr};
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
  if (msgs) {
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
  if (out.messages.empty())
    return {LLMSVC_ESCHEMA, "request.messages: missing or empty (give messages or prompt)"};

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

  if (const JsonValue *stop = r.find("stop")) {
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
    JsonBuffer buf;
    JsonWriter w(buf);
    meta->Accept(w);
    out.metadata_json.assign(buf.GetString(), buf.GetSize());
  }
  if (const JsonValue *js = r.find("json_schema"); js && !parse_json_schema(*js, out, err))
    return err;
  // "id" is the caller's own label (batch files); it is accepted and ignored here.
  if (const JsonValue *id = r.find("id"); id && !id->IsString() && !id->IsNumber())
    return {LLMSVC_ESCHEMA, "request.id: expected a string or a number"};
  if (out.operation.empty()) out.operation = "default";
  return {};
}

}  // namespace llmsvc
