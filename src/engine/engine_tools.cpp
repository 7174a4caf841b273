// Tool calls on the engine's side: structured output that came back as a tool call,
// strict tools' arguments checked against their schemas, streamed tool-call pieces handed
// to the caller, and what a reply carries beyond its text written into the result.
#include "engine/engine.h"

namespace llmsvc {

namespace {

// JSON mode asks for a JSON object and nothing more.
const JsonSchema &any_object() {
  static const std::shared_ptr<const JsonSchema> schema = [] {
    JsonDoc doc;
    doc.Parse(R"({"type":"object"})");
    std::string unused;
    return JsonSchema::compile(doc, unused);
  }();
  return *schema;
}

}  // namespace

bool Engine::settle_tool_calls(Pending *p, ProviderReply &reply, SchemaViolation &violation,
                               std::string &output) {
  const RequestSpec &spec = p->spec;
  if (spec.schema && p->dep->provider->schema_as_tool()) take_schema_call(reply, spec.schema_name);
  // A tool round carries calls and no answer yet: the answer's shape is checked when it comes.
  const JsonSchema *shape = spec.schema ? spec.schema.get() : spec.json_mode ? &any_object() : nullptr;
  if (shape && !(reply.text.empty() && !reply.tool_calls.empty()) &&
      !shape->validate(reply.text, violation)) {
    output = reply.text;
    return false;
  }
  for (size_t i = 0; i < reply.tool_calls.size(); ++i) {
    const ToolCall &c = reply.tool_calls[i];
    const ToolDef *t = find_tool(spec, c.name);
    if (!t || !t->strict || !*t->strict || !t->parameters) continue;
    if (!t->parameters->validate(c.arguments, violation)) {
      violation.message = "tool call " + std::to_string(i) + " (" + c.name +
                          ", a strict tool): its arguments do not match the tool's parameters: " +
                          violation.message;
      output = c.arguments;
      return false;
    }
  }
  return true;
}

void Engine::take_tool_pieces(Pending *p) {
  StreamState &st = p->st->reply;
  const bool schema_tool = p->spec.schema && p->dep->provider->schema_as_tool();
  for (ToolPiece &piece : st.tool_pieces) {
    const ToolCall &call = st.reply.tool_calls[piece.index];
    if (schema_tool && call.name == p->spec.schema_name) {
      // Structured output streams as the tool's input: to the caller (and to the estimate
      // of a stream cut short) it is the text.
      if (!piece.arguments.empty()) {
        st.reply.text += piece.arguments;
        queue_text(p, std::move(piece.arguments));
      }
      continue;
    }
    if (!p->pieces) continue;
    // A call's pieces are numbered among the caller's calls, without the schema tool.
    uint32_t index = 0;
    for (size_t i = 0; i < piece.index; ++i)
      index += !(schema_tool && st.reply.tool_calls[i].name == p->spec.schema_name);
    if (!p->first_delta_ns) {
      p->first_delta_ns = clock_.steady_ns();
      metrics_.first_token(p->first_delta_ns - p->attempts.back().start_ns);
    }
    p->delta_sent = true;
    if (!p->piece_cb && !p->pieces_to_queue) continue;  // pieces asked for, but no one takes them
    if (!piece.id.empty() || !piece.name.empty()) {
      Delta d{p->id, nullptr, p->payload, std::string()};
      d.piece_cb = p->piece_cb;
      d.kind = LLMSVC_PIECE_TOOL_CALL;
      d.index = index;
      d.call_id = call.id;
      d.name = call.name;
      deltas_.push_back(std::move(d));
    }
    if (!piece.arguments.empty()) {
      Delta d{p->id, nullptr, p->payload, std::move(piece.arguments)};
      d.piece_cb = p->piece_cb;
      d.kind = LLMSVC_PIECE_TOOL_ARGUMENTS;
      d.index = index;
      deltas_.push_back(std::move(d));
    }
  }
  st.tool_pieces.clear();
}

namespace {

void write_tool_calls(JsonWriter &w, const RequestSpec &spec, const std::vector<ToolCall> &calls) {
  w.StartArray();
  for (const ToolCall &c : calls) {
    w.StartObject();
    w.Key("id");
    write_str(w, c.id);
    w.Key("name");
    write_str(w, c.name);
    w.Key("arguments");
    write_str(w, c.arguments);
    const ToolDef *t = find_tool(spec, c.name);
    if (!t) {
      w.Key("unknown_tool");  // the model named a tool the request did not offer
      w.Bool(true);
    }
    ScratchDoc scratch;
    JsonDoc &doc = scratch.doc();
    DocError bad = parse_json(doc, c.arguments, "arguments");
    SchemaViolation violation;
    if (bad) {
      w.Key("arguments_error");
      write_str(w, bad.message);
    } else if (!doc.IsObject()) {
      w.Key("arguments_error");
      w.String("the arguments are not a JSON object");
    } else {
      w.Key("arguments_json");
      doc.Accept(w);
      // Strict tools were checked before the request succeeded; the others are told here.
      if (t && t->parameters && !(t->strict && *t->strict) &&
          !t->parameters->validate(c.arguments, violation)) {
        w.Key("arguments_error");
        write_str(w, violation.message);
      }
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

void Engine::write_reply_extras(JsonWriter &w, const Pending *p, const ProviderReply &reply) const {
  if (!reply.tool_calls.empty()) {
    w.Key("tool_calls");
    write_tool_calls(w, p->spec, reply.tool_calls);
  }
  if (!reply.logprobs_json.empty()) {
    w.Key("logprobs");
    w.RawValue(reply.logprobs_json.data(), reply.logprobs_json.size(), rapidjson::kArrayType);
  }
  if (!reply.choices.empty()) {
    w.Key("choices");
    w.StartArray();
    for (size_t i = 0; i < reply.choices.size(); ++i) {
      const ReplyChoice &c = reply.choices[i];
      w.StartObject();
      w.Key("index");
      w.Uint64(i);
      w.Key("text");
      write_str(w, c.text);
      write_opt_str(w, "finish_reason", c.finish_reason);
      if (!c.tool_calls.empty()) {
        w.Key("tool_calls");
        write_tool_calls(w, p->spec, c.tool_calls);
      }
      if (!c.logprobs_json.empty()) {
        w.Key("logprobs");
        w.RawValue(c.logprobs_json.data(), c.logprobs_json.size(), rapidjson::kArrayType);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  write_opt_str(w, "service_tier", reply.service_tier);
  if (!reply.thinking.empty() || !reply.thinking_signature.empty()) {
    // Apart from the answer; with its signature it goes back in the next tool round.
    w.Key("thinking");
    write_str(w, reply.thinking);
    write_opt_str(w, "thinking_signature", reply.thinking_signature);
  }
}

}  // namespace llmsvc
