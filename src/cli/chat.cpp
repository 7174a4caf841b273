#include "chat.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "llmsvc.h"

#include "client_start.h"

namespace llmsvc_cli {

namespace {

// The request document; "" with `error` set when the tools file cannot be used.
std::string request_json(const ChatOptions &o, std::string &error) {
  rapidjson::Document tools;
  if (!o.tools_file.empty()) {
    std::ifstream in(o.tools_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      error = "cannot read " + o.tools_file;
      return "";
    }
    tools.Parse(text.str().c_str());
    if (tools.HasParseError() || !tools.IsArray()) {
      error = o.tools_file + ": expected a JSON array of tool definitions";
      return "";
    }
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (tools.IsArray()) {  // the library checks each tool and names what is wrong
    w.Key("tools");
    tools.Accept(w);
  }
  if (o.tool_choice == "auto" || o.tool_choice == "none" || o.tool_choice == "required") {
    w.Key("tool_choice");
    w.String(o.tool_choice.c_str());
  } else if (!o.tool_choice.empty()) {
    w.Key("tool_choice");
    w.StartObject();
    w.Key("type");
    w.String("function");
    w.Key("name");
    w.String(o.tool_choice.c_str(), rapidjson::SizeType(o.tool_choice.size()));
    w.EndObject();
  }
  w.Key("prompt");
  w.String(o.prompt.c_str(), rapidjson::SizeType(o.prompt.size()));
  if (!o.system.empty()) {
    w.Key("instructions");
    w.String(o.system.c_str(), rapidjson::SizeType(o.system.size()));
  }
  if (o.max_output_tokens > 0) {
    w.Key("max_output_tokens");
    w.Int64(o.max_output_tokens);
  }
  w.Key("operation");
  w.String("chat");
  w.EndObject();
  return buf.GetString();
}

// The reply's tool calls, one "NAME(ARGUMENTS)" line each.
void print_tool_calls(const llmsvc_result *r) {
  rapidjson::Document doc;
  doc.Parse(llmsvc_result_json(r, nullptr));
  auto calls = doc.IsObject() ? doc.FindMember("tool_calls") : doc.MemberEnd();
  if (calls == doc.MemberEnd() || !calls->value.IsArray()) return;
  for (const auto &c : calls->value.GetArray())
    if (c.IsObject() && c.HasMember("name") && c.HasMember("arguments"))
      std::printf("%s(%s)\n", c["name"].GetString(), c["arguments"].GetString());
}

// Prints the outcome of the completion and frees it; returns the exit code.
int report(llmsvc_result *r, const ChatOptions &o) {
  int code = kExitOk;
  if (llmsvc_result_kind(r) != LLMSVC_KIND_NONE) {
    std::fprintf(stderr, "llmsvc: %s: %s\n", llmsvc_error_kind_name(llmsvc_result_kind(r)),
                 llmsvc_result_error_message(r));
    code = kExitFailed;
  } else if (o.json) {
    std::printf("%s\n", llmsvc_result_json(r, nullptr));
  } else if (o.stream) {
    std::printf("\n");
  } else {
    std::printf("%s\n", llmsvc_result_text(r));
    print_tool_calls(r);
  }
  llmsvc_result_free(r);
  std::fflush(stdout);
  return code;
}

int refused(int rc, llmsvc_error *err) {
  std::fprintf(stderr, "llmsvc: the request was refused: %s\n",
               err ? llmsvc_error_message(err) : llmsvc_strerror(rc));
  llmsvc_error_free(err);
  return kExitFailed;
}

int stream(llmsvc_client *c, const std::string &req, const ChatOptions &o) {
  llmsvc_error *err = nullptr;
  int rc = llmsvc_client_submit_stream_pieces(c, req.c_str(), nullptr, nullptr, nullptr, nullptr,
                                              &err);
  if (rc != LLMSVC_OK) return refused(rc, err);
  bool in_call = false;  // a tool call's arguments are being printed
  for (;;) {
    llmsvc_result *r = nullptr;
    if (llmsvc_client_poll(c, -1, &r, nullptr) != LLMSVC_OK) return kExitFailed;
    if (llmsvc_result_type(r) == LLMSVC_RESULT_COMPLETION) {
      if (in_call) std::fputs(")", stdout);
      return report(r, o);
    }
    int kind = LLMSVC_PIECE_TEXT;
    const char *name = "";
    llmsvc_result_piece(r, &kind, nullptr, nullptr, &name);
    if (kind == LLMSVC_PIECE_TOOL_CALL) {  // as the whole reply prints it: NAME(ARGUMENTS)
      std::printf("%s\n%s(", in_call ? ")" : "", name);
      in_call = true;
    } else {
      const char *piece = llmsvc_result_text(r);
      std::fputs(piece ? piece : "", stdout);
    }
    std::fflush(stdout);
    llmsvc_result_free(r);
  }
}

}  // namespace

int chat(const ChatOptions &o) {
  std::string bad;
  std::string req = request_json(o, bad);
  if (!bad.empty()) {
    std::fprintf(stderr, "llmsvc: %s\n", bad.c_str());
    return kExitUsage;
  }
  ClientSetup setup;
  Emulator emulator;
  ClientPtr client;
  std::string err = start_client(
      o.client, &setup, &emulator,
      [](const std::string &m) { std::fprintf(stderr, "%s\n", m.c_str()); }, &client);
  if (!err.empty()) {
    std::fprintf(stderr, "llmsvc: %s\n", err.c_str());
    return kExitConfig;
  }
  if (o.stream) return stream(client.get(), req, o);
  llmsvc_result *r = nullptr;
  llmsvc_error *e = nullptr;
  int rc = llmsvc_client_generate(client.get(), req.c_str(), &r, &e);
  if (rc != LLMSVC_OK) return refused(rc, e);
  return report(r, o);
}

}  // namespace llmsvc_cli
