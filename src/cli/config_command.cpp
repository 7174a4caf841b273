#include "config_command.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "llmsvc.h"

#include "args.h"

namespace llmsvc_cli {

namespace {

const char kConfigHelp[] =
    "usage: llmsvc config check FILE [--env-file F]\n"
    "       llmsvc config convert FILE [--env-file F] [--keys]\n"
    "\n"
    "Reads a configuration file as llmsvc run --config does: YAML or JSON, in llmsvc's\n"
    "layout, the llm.yaml key-pool layout or LiteLLM's config.yaml; ${NAME}, ${NAME:-default}\n"
    "and os.environ/NAME take values from the environment.\n"
    "\n"
    "  check     print the effective configuration (keys redacted), its deployments and\n"
    "            their limits, and what the file has that llmsvc does not use\n"
    "  convert   print llmsvc's JSON configuration for the file (keys redacted unless --keys)\n"
    "  --env-file F   read NAME=VALUE lines from F into the environment first (variables\n"
    "                 already set keep their value)\n"
    "\n"
    "exit status: 0 the file is valid, 2 bad command line, 5 the file is not valid\n";

// NAME=VALUE lines; "#" comments, blank lines, "export " and quotes around the value.
std::string load_env_file(const std::string &path) {
  std::ifstream in(path);
  if (!in) return path + ": cannot open the file";
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      return path + ":" + std::to_string(n) + ": expected NAME=VALUE";
    std::string name = line.substr(0, eq), value = line.substr(eq + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0])
      value = value.substr(1, value.size() - 2);
    setenv(name.c_str(), value.c_str(), 0);
  }
  return "";
}

// Secrets out of what is printed: keys, passwords and header values.
void redact(rapidjson::Value &v, rapidjson::Document::AllocatorType &a) {
  if (v.IsArray()) {
    for (auto &x : v.GetArray()) redact(x, a);
    return;
  }
  if (!v.IsObject()) return;
  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
    std::string name(m->name.GetString(), m->name.GetStringLength());
    if ((name == "api_key" || name == "password") && m->value.IsString()) {
      m->value.SetString("[redacted]", a);
    } else if (name == "api_keys" && m->value.IsArray()) {
      for (auto &k : m->value.GetArray()) k.SetString("[redacted]", a);
    } else if (name == "headers" && m->value.IsObject()) {
      for (auto h = m->value.MemberBegin(); h != m->value.MemberEnd(); ++h) h->value.SetString("[redacted]", a);
    } else {
      redact(m->value, a);
    }
  }
}

std::string pretty(const rapidjson::Value &v) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return buf.GetString();
}

std::string limits_text(const rapidjson::Value *l) {
  if (!l || !l->IsObject() || l->MemberCount() == 0) return "no limits";
  std::string s;
  for (auto m = l->MemberBegin(); m != l->MemberEnd(); ++m) {
    if (!s.empty()) s += ", ";
    s += std::string(m->name.GetString()) + " " +
         (m->value.IsInt64() ? std::to_string(m->value.GetInt64()) : std::string("?"));
  }
  return s;
}

const rapidjson::Value *get(const rapidjson::Value &o, const char *name) {
  if (!o.IsObject()) return nullptr;
  auto it = o.FindMember(name);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

std::string text_of(const rapidjson::Value *v, const char *fallback) {
  return v && v->IsString() ? v->GetString() : fallback;
}

}  // namespace

int config_command(int argc, char **argv) {
  std::string action, file, env_file;
  bool keys = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kConfigHelp, stdout);
      return kExitOk;
    }
    if (a == "--env-file" && i + 1 < argc) env_file = argv[++i];
    else if (a == "--keys") keys = true;
    else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "llmsvc config: unknown option %s\n%s", a.c_str(), kConfigHelp);
      return kExitUsage;
    } else if (action.empty()) action = a;
    else if (file.empty()) file = a;
    else {
      std::fprintf(stderr, "llmsvc config: unexpected argument \"%s\"\n", a.c_str());
      return kExitUsage;
    }
  }
  if ((action != "check" && action != "convert") || file.empty()) {
    std::fputs(kConfigHelp, stderr);
    return kExitUsage;
  }
  if (keys && action != "convert") {
    std::fprintf(stderr, "llmsvc config: --keys is for convert\n");
    return kExitUsage;
  }
  if (!env_file.empty()) {
    if (std::string err = load_env_file(env_file); !err.empty()) {
      std::fprintf(stderr, "llmsvc config: %s\n", err.c_str());
      return kExitConfig;
    }
  }
  char *json = nullptr, *warnings = nullptr;
  llmsvc_error *err = nullptr;
  if (llmsvc_config_load(file.c_str(), &json, &warnings, &err) != LLMSVC_OK) {
    std::fprintf(stderr, "llmsvc config: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    return kExitConfig;
  }
  rapidjson::Document doc, w;
  doc.Parse(json);
  w.Parse(warnings);
  llmsvc_free(json);
  llmsvc_free(warnings);
  if (!keys) redact(doc, doc.GetAllocator());
  if (action == "convert") {
    std::printf("%s\n", pretty(doc).c_str());
    for (const auto &one : w.GetArray()) std::fprintf(stderr, "warning: %s\n", one.GetString());
    return kExitOk;
  }
  std::printf("%s: valid\n\neffective configuration:\n%s\n\n", file.c_str(), pretty(doc).c_str());
  const rapidjson::Value *deps = get(doc, "deployments");
  if (deps && deps->IsArray() && !deps->Empty()) {
    std::printf("deployments:\n");
    for (const auto &d : deps->GetArray())
      std::printf("  %-24s group %-18s %-16s %-28s %s\n", text_of(get(d, "name"), "?").c_str(),
                  text_of(get(d, "group"), text_of(get(d, "model"), "(any model)").c_str()).c_str(),
                  text_of(get(d, "provider"), text_of(get(doc, "provider"), "openai_chat").c_str()).c_str(),
                  text_of(get(d, "model"), "(as requested)").c_str(),
                  limits_text(get(d, "limits")).c_str());
  } else {
    std::printf("one deployment: %s %s, %s\n", text_of(get(doc, "provider"), "openai_chat").c_str(),
                text_of(get(doc, "model"), "(as requested)").c_str(),
                limits_text(get(doc, "limits")).c_str());
  }
  std::printf("\nwarnings: %s\n", w.Empty() ? "none" : "");
  for (const auto &one : w.GetArray()) std::printf("  %s\n", one.GetString());
  return kExitOk;
}

}  // namespace llmsvc_cli
