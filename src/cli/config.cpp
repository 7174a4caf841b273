#include "config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>


#include "json_util.h"
#include "llmsvc.h"

namespace llmsvc_cli {

namespace {

using rapidjson::Value;

bool env_set(const char *name) {
  const char *v = std::getenv(name);
  return v && *v;
}

void set_string(rapidjson::Document &doc, Value &obj, const char *name, const std::string &v) {
  auto &a = doc.GetAllocator();
  obj.RemoveMember(name);
  obj.AddMember(Value(name, a), Value(v.c_str(), rapidjson::SizeType(v.size()), a), a);
}

void set_int(rapidjson::Document &doc, Value &obj, const char *name, int64_t v) {
  auto &a = doc.GetAllocator();
  obj.RemoveMember(name);
  obj.AddMember(Value(name, a), Value(v), a);
}

// The object member `name` of `obj`, created when absent; nullptr when it is not an object.
Value *object_member(rapidjson::Document &doc, Value &obj, const char *name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    obj.AddMember(Value(name, doc.GetAllocator()), Value(rapidjson::kObjectType),
                  doc.GetAllocator());
    it = obj.FindMember(name);
  }
  return it->value.IsObject() ? &it->value : nullptr;
}

std::string apply_limits(const ClientOptions &o, ClientSetup *s) {
  const std::pair<const char *, int64_t> given[] = {
      {"rpm", o.rpm},   {"tpm", o.tpm},
      {"itpm", o.itpm}, {"otpm", o.otpm},
      {"concurrency", o.concurrency}, {"window_ms", o.window_ms}};
  bool any = false;
  for (const auto &g : given) any = any || g.second >= 0;
  if (!any && !member(&s->doc, "limits")) return "";
  if (const Value *l = member(&s->doc, "limits"); l && l->IsArray()) {
    // One limits object per deployment: the library checks them; flags cannot apply.
    if (any)
      return "--rpm, --tpm, --concurrency and --window-ms set one limits object, but the "
             "configuration gives a list of them (one per deployment)";
    return "";
  }
  Value *limits = object_member(s->doc, s->doc, "limits");
  if (!limits) return "config.limits: expected an object";
  for (const auto &g : given)
    if (g.second >= 0) set_int(s->doc, *limits, g.first, g.second);
  s->rpm = int_member(limits, "rpm");
  s->tpm = int_member(limits, "tpm");
  s->itpm = int_member(limits, "itpm");
  s->otpm = int_member(limits, "otpm");
  s->window_ms = int_member(limits, "window_ms");
  return "";
}

std::string apply_cache(const ClientOptions &o, ClientSetup *s) {
  if (o.no_cache) {
    s->doc.RemoveMember("cache");
    return "";
  }
  if (o.cache_db.empty() && !o.cache_memory && o.cache_policy.empty()) return "";
  Value *cache = object_member(s->doc, s->doc, "cache");
  if (!cache) return "config.cache: expected an object";
  auto &a = s->doc.GetAllocator();
  if (!o.cache_policy.empty()) set_string(s->doc, *cache, "policy", o.cache_policy);
  if (o.cache_memory) {
    cache->RemoveMember("memory");
    cache->AddMember("memory", Value(rapidjson::kObjectType), a);
  }
  if (!o.cache_db.empty()) {
    Value sqlite(rapidjson::kObjectType);
    sqlite.AddMember("path", Value(o.cache_db.c_str(), a), a);
    cache->RemoveMember("sqlite");
    cache->AddMember("sqlite", sqlite, a);
  }
  return "";
}

// Which provider the library will speak, as far as the key and base URL go.
std::string effective_provider(const ClientSetup &s) {
  std::string p = string_member(&s.doc, "provider");
  if (!p.empty()) return p;
  return s.model.rfind("claude", 0) == 0 ? "anthropic" : "openai";
}

bool has_key_or_base_url(const ClientSetup &s) {
  if (member(&s.doc, "api_key") || member(&s.doc, "base_url")) return true;
  // Deployments bring their own endpoints and keys.
  if (member(&s.doc, "deployments") || member(&s.doc, "api_keys")) return true;
  std::string p = effective_provider(s);
  if (p == "ollama") return true;  // a local server by default, no key
  if (p == "anthropic") return env_set("ANTHROPIC_API_KEY") || env_set("ANTHROPIC_BASE_URL");
  return env_set("OPENAI_API_KEY") || env_set("OPENAI_BASE_URL");
}

}  // namespace

std::string load_client_setup(const ClientOptions &o, ClientSetup *s) {
  s->doc.SetObject();
  if (!o.config_path.empty()) {
    // The library reads the file (YAML or JSON, llmsvc's, llm.yaml's or LiteLLM's layout,
    // environment references resolved); its warnings go to stderr.
    char *json = nullptr, *warnings = nullptr;
    llmsvc_error *err = nullptr;
    if (llmsvc_config_load(o.config_path.c_str(), &json, &warnings, &err) != LLMSVC_OK) {
      std::string why = llmsvc_error_message(err);
      llmsvc_error_free(err);
      return why;
    }
    s->doc.Parse(json);
    llmsvc_free(json);
    rapidjson::Document w;
    w.Parse(warnings);
    llmsvc_free(warnings);
    if (w.IsArray())
      for (const auto &one : w.GetArray()) s->warnings.emplace_back(one.GetString(), one.GetStringLength());
  }
  if (!o.model.empty()) set_string(s->doc, s->doc, "model", o.model);
  if (!o.provider.empty()) set_string(s->doc, s->doc, "provider", o.provider);
  if (!o.base_url.empty()) set_string(s->doc, s->doc, "base_url", o.base_url);
  const Value *model = member(&s->doc, "model");
  if (model && !model->IsString()) return "config.model: expected a string";
  if (!model) {
    set_string(s->doc, s->doc, "model", kDefaultModel);
    s->model_defaulted = true;
  }
  s->model = string_member(&s->doc, "model");
  std::string err = apply_limits(o, s);
  if (err.empty()) err = apply_cache(o, s);
  if (!err.empty()) return err;
  s->needs_emulator = !has_key_or_base_url(*s);
  return "";
}

void use_emulator(ClientSetup *s, const std::string &base_url) {
  set_string(s->doc, s->doc, "base_url", base_url);
  set_string(s->doc, s->doc, "api_key", "sk-emulator");
  // The emulator listens on a new port each run: scope the cache to it, not to its URL,
  // so that a second run finds what the first stored.
  auto cache = s->doc.FindMember("cache");
  if (cache != s->doc.MemberEnd() && cache->value.IsObject() &&
      !cache->value.HasMember("namespace"))
    set_string(s->doc, cache->value, "namespace", "llmsvc-emulator");
}

std::string config_json(const ClientSetup &s) { return to_json(s.doc); }

}  // namespace llmsvc_cli
