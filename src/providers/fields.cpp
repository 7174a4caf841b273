#include "providers/fields.h"

#include <curl/curl.h>

#include <new>

#include "core/request.h"
#include "providers/provider.h"
#include "retry/policy.h"

namespace llmsvc {

bool parse_object(ScratchDoc &scratch, std::string_view body, const char *what,
                  std::string &error) {
  JsonDoc &doc = scratch.doc();
  if (too_deep(body)) {
    error = std::string(what) + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  if (!parse_foreign_json(doc, body) || !doc.IsObject()) {
    error = std::string(what) + " is not a JSON object";
    return false;
  }
  return true;
}

void write_schema_members(JsonWriter &w, const RequestSpec &req) {
  w.Key("name");
  write_str(w, req.schema_name);
  if (!req.schema_description.empty()) {
    w.Key("description");
    write_str(w, req.schema_description);
  }
  w.Key("schema");
  w.RawValue(req.schema_json.data(), req.schema_json.size(), rapidjson::kObjectType);
  w.Key("strict");
  w.Bool(req.schema_strict);
}

void write_sampling(JsonWriter &w, const RequestSpec &req) {
  if (req.temperature) {
    w.Key("temperature");
    w.Double(*req.temperature);
  }
  if (req.top_p) {
    w.Key("top_p");
    w.Double(*req.top_p);
  }
}

void write_openai_tools(JsonWriter &w, const RequestSpec &req, bool flat, bool choice) {
  if (!req.tools.empty()) {
    w.Key("tools");
    w.StartArray();
    for (const ToolDef &t : req.tools) {
      w.StartObject();
      w.Key("type");
      w.String("function");
      if (!flat) {
        w.Key("function");
        w.StartObject();
      }
      w.Key("name");
      write_str(w, t.name);
      if (!t.description.empty()) {
        w.Key("description");
        write_str(w, t.description);
      }
      // The Responses API requires both members (null: its own default).
      if (!t.parameters_json.empty()) {
        w.Key("parameters");
        w.RawValue(t.parameters_json.data(), t.parameters_json.size(), rapidjson::kObjectType);
      } else if (flat) {
        w.Key("parameters");
        w.Null();
      }
      if (t.strict) {
        w.Key("strict");
        w.Bool(*t.strict);
      } else if (flat) {
        w.Key("strict");
        w.Null();
      }
      if (!flat) w.EndObject();
      w.EndObject();
    }
    w.EndArray();
  }
  if (!choice) return;
  switch (req.tool_choice) {
    case ToolChoice::kDefault: break;
    case ToolChoice::kAuto:
    case ToolChoice::kNone:
    case ToolChoice::kRequired:
      w.Key("tool_choice");
      w.String(req.tool_choice == ToolChoice::kAuto   ? "auto"
               : req.tool_choice == ToolChoice::kNone ? "none"
                                                      : "required");
      break;
    case ToolChoice::kNamed:
      w.Key("tool_choice");
      w.StartObject();
      w.Key("type");
      w.String("function");
      if (!flat) {
        w.Key("function");
        w.StartObject();
      }
      w.Key("name");
      write_str(w, req.tool_choice_name);
      if (!flat) w.EndObject();
      w.EndObject();
      break;
  }
  if (req.parallel_tool_calls && !req.tools.empty()) {
    w.Key("parallel_tool_calls");
    w.Bool(*req.parallel_tool_calls);
  }
}

bool write_arguments_object(JsonWriter &w, const std::string &arguments) {
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  if (too_deep(arguments) || parse_json(doc, arguments, "arguments") || !doc.IsObject())
    return false;
  doc.Accept(w);
  return true;
}

std::string arguments_not_objects(const RequestSpec &req) {
  for (size_t i = 0; i < req.messages.size(); ++i)
    for (size_t j = 0; j < req.messages[i].tool_calls.size(); ++j) {
      ScratchDoc scratch;
      const std::string &a = req.messages[i].tool_calls[j].arguments;
      if (parse_json(scratch.doc(), a, "arguments") || !scratch.doc().IsObject())
        return "messages[" + std::to_string(i) + "].tool_calls[" + std::to_string(j) +
               "].function.arguments: this provider takes the arguments as a JSON object, and "
               "this text is not one";
    }
  return {};
}

std::string images_not_inline(const RequestSpec &req, const char *provider) {
  for (size_t i = 0; i < req.messages.size(); ++i) {
    for (const ContentPart &p : req.messages[i].parts) {
      if (p.type != ContentPart::Type::kImageUrl) continue;
      if (p.url.rfind("data:", 0) != 0 || p.url.find(";base64,") == std::string::npos)
        return "messages[" + std::to_string(i) + "]: " + provider +
               " takes images as base64 data: URLs, not links";
    }
  }
  return {};
}

std::string parts_text(const Message &m) {
  std::string text;
  for (const ContentPart &p : m.parts)
    if (p.type == ContentPart::Type::kText) text += p.text;
  return text;
}

bool has_content_besides_thinking(const Message &m) {
  for (const ContentPart &p : m.parts)
    if (p.type != ContentPart::Type::kThinking) return true;
  return false;
}

void append_logprobs(std::string &into, const JsonValue &content) {
  if (!content.IsArray() || content.Empty()) return;
  std::string text = json_text(content);
  if (into.empty()) {
    into = std::move(text);
    return;
  }
  std::string_view items(text.data() + 1, text.size() - 2);  // without [ and ]
  into.pop_back();  // the closing ]
  into += ',';
  into.append(items);
  into += ']';
}

void merge_extra_body(JsonBuffer &body, const std::string &extra) {
  JsonDoc doc, add;
  if (parse_json(doc, std::string_view(body.GetString(), body.GetSize()), "body") ||
      !doc.IsObject() || parse_json(add, extra, "extra_body") || !add.IsObject())
    return;  // both are ours and were checked at submit
  for (auto m = add.MemberBegin(); m != add.MemberEnd(); ++m) {
    auto at = doc.FindMember(m->name);
    if (at != doc.MemberEnd()) at->value.CopyFrom(m->value, doc.GetAllocator());
    else
      doc.AddMember(JsonValue(m->name, doc.GetAllocator()), JsonValue(m->value, doc.GetAllocator()),
                    doc.GetAllocator());
  }
  body.Clear();
  JsonWriter w(body);
  doc.Accept(w);
}

void append_config_headers(curl_slist *&list, const Config &config) {
  for (const auto &[name, value] : config.headers) append_header(list, name + ": " + value);
}

void parse_error_object(std::string_view body, ProviderError &e) {
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  if (too_deep(body) || !parse_foreign_json(doc, body) || !doc.IsObject()) return;
  auto err = doc.FindMember("error");
  if (err == doc.MemberEnd()) return;
  if (err->value.IsString()) {
    e.message = std::string(sv(err->value));
    return;
  }
  e.type = str_member(err->value, "type");
  e.code = str_member(err->value, "code");
  e.message = str_member(err->value, "message");
  e.param = str_member(err->value, "param");
}

bool read_retry_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                       ResponseHeaders &out) {
  if (name == "retry-after-ms") {
    out.retry_after_ms_ns = parse_retry_after_ms(value);
  } else if (name == "retry-after") {
    out.retry_after_ns = parse_retry_after(value, wall_now_ms / 1000);
  } else if (name == "x-should-retry") {
    std::string_view v = value.substr(0, value.find_first_of("\r\n "));
    out.should_retry = v == "true" ? 1 : v == "false" ? 0 : -1;
  } else {
    return false;
  }
  return true;
}

void append_header(curl_slist *&list, const std::string &line) {
  curl_slist *n = curl_slist_append(list, line.c_str());
  if (!n) throw std::bad_alloc();
  list = n;
}

}  // namespace llmsvc
