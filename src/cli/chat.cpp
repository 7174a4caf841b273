#include "chat.h"

#include <cstdio>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "llmsvc.h"

#include "client_start.h"

namespace llmsvc_cli {

namespace {

std::string request_json(const ChatOptions &o) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
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
  int rc = llmsvc_client_submit_stream(c, req.c_str(), nullptr, nullptr, nullptr, nullptr, &err);
  if (rc != LLMSVC_OK) return refused(rc, err);
  for (;;) {
    llmsvc_result *r = nullptr;
    if (llmsvc_client_poll(c, -1, &r, nullptr) != LLMSVC_OK) return kExitFailed;
    if (llmsvc_result_type(r) == LLMSVC_RESULT_COMPLETION) return report(r, o);
    const char *piece = llmsvc_result_text(r);
    std::fputs(piece ? piece : "", stdout);
    std::fflush(stdout);
    llmsvc_result_free(r);
  }
}

}  // namespace

int chat(const ChatOptions &o) {
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
  std::string req = request_json(o);
  if (o.stream) return stream(client.get(), req, o);
  llmsvc_result *r = nullptr;
  llmsvc_error *e = nullptr;
  int rc = llmsvc_client_generate(client.get(), req.c_str(), &r, &e);
  if (rc != LLMSVC_OK) return refused(rc, e);
  return report(r, o);
}

}  // namespace llmsvc_cli
