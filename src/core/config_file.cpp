#include "core/config_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "core/config.h"
#include "llmsvc.h"

namespace llmsvc {

bool resolve_env(std::string &s, std::string &error, std::vector<std::string> *taken) {
  constexpr std::string_view kLiteLLM = "os.environ/";
  if (s.rfind(kLiteLLM, 0) == 0) {
    std::string name = s.substr(kLiteLLM.size());
    const char *v = std::getenv(name.c_str());
    if (!v) {
      error = "the environment variable " + name + " is not set";
      return false;
    }
    s = v;
    if (taken) taken->push_back(s);
    return true;
  }
  if (s.find('$') == std::string::npos) return true;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, "$${") == 0) {  // a literal ${
      out += "${";
      i += 3;
      continue;
    }
    if (s.compare(i, 2, "${") != 0) {
      out += s[i++];
      continue;
    }
    size_t close = s.find('}', i + 2);
    if (close == std::string::npos) {
      error = "an environment reference ${ is not closed with }";
      return false;
    }
    std::string ref = s.substr(i + 2, close - i - 2);
    size_t dash = ref.find(":-");
    std::string name = ref.substr(0, dash);
    if (name.empty() || name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
                            std::string::npos) {
      error = "\"${" + name + "}\" is not an environment reference (${NAME} or ${NAME:-default})";
      return false;
    }
    const char *v = std::getenv(name.c_str());
    if (v && *v) {
      out += v;
      if (taken) taken->push_back(v);
    } else if (dash != std::string::npos) {
      out += ref.substr(dash + 2);
    } else if (v) {
      // set but empty, no default: empty, as the shell does
    }
    else {
      error = "the environment variable " + name + " is not set";
      return false;
    }
    i = close + 1;
  }
  s = std::move(out);
  return true;
}

namespace {

// Aliases expand: a chain of "b: &b [*a, *a]" doubles at each step. A configuration has
// far fewer values than this bound.
constexpr size_t kMaxValues = 100000;

std::string where(const std::string &file, const YAML::Mark &m) {
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// YAML's core schema for plain scalars: null, booleans, integers, floats; the rest strings.
bool plain_scalar(const std::string &s, JsonValue &out) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    out.SetNull();
    return true;
  }
  if (s == "true" || s == "True" || s == "TRUE") return out.SetBool(true), true;
  if (s == "false" || s == "False" || s == "FALSE") return out.SetBool(false), true;
  const char *b = s.c_str();
  char *end = nullptr;
  size_t digits_from = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (s.size() > digits_from && s.find_first_not_of("0123456789", digits_from) == std::string::npos) {
    errno = 0;
    long long v = std::strtoll(b, &end, 10);
    if (errno == 0 && *end == '\0') return out.SetInt64(v), true;
  }
  if (s.find_first_of("0123456789") != std::string::npos &&
      s.find_first_not_of("0123456789+-.eE") == std::string::npos) {
    double d = std::strtod(b, &end);
    if (*end == '\0' && std::isfinite(d)) return out.SetDouble(d), true;
  }
  return false;
}

struct Converter {
  const std::string &file;
  std::map<std::string, YAML::Mark> &marks;
  std::vector<std::string> taken;  // values read from the environment
  size_t values = 0;
  DocError err;

  bool fail(const YAML::Mark &m, const std::string &path, const std::string &why) {
    err = {LLMSVC_ESCHEMA, where(file, m) + ": " + path + ": " + why};
    return false;
  }

  bool convert(const YAML::Node &n, JsonValue &out, JsonPool &a, const std::string &path,
               size_t depth) {
    if (++values > kMaxValues)
      return fail(n.Mark(), path,
                  "the document expands to more than " + std::to_string(kMaxValues) + " values");
    if (depth > kMaxJsonDepth)
      return fail(n.Mark(), path, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    marks.emplace(path, n.Mark());
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.SetNull();
        return true;
      case YAML::NodeType::Scalar: {
        std::string s = n.Scalar();
        // Quoted (tag "!") or explicitly tagged as a string: a string, whatever it reads as.
        if (n.Tag() == "?" && plain_scalar(s, out)) return true;
        std::string why;
        if (!resolve_env(s, why, &taken)) return fail(n.Mark(), path, why);
        out.SetString(s.data(), rapidjson::SizeType(s.size()), a);
        return true;
      }
      case YAML::NodeType::Sequence: {
        out.SetArray();
        size_t i = 0;
        for (const YAML::Node &item : n) {
          JsonValue v;
          if (!convert(item, v, a, path + "[" + std::to_string(i++) + "]", depth + 1)) return false;
          out.PushBack(v, a);
        }
        return true;
      }
      case YAML::NodeType::Map: {
        out.SetObject();
        for (const auto &kv : n) {
          if (!kv.first.IsScalar()) return fail(kv.first.Mark(), path, "a key that is not a string");
          const std::string &key = kv.first.Scalar();
          if (out.HasMember(key.c_str()))
            return fail(kv.first.Mark(), path, "\"" + key + "\" is given twice");
          JsonValue v;
          if (!convert(kv.second, v, a, path + "." + key, depth + 1)) return false;
          out.AddMember(JsonValue(key.data(), rapidjson::SizeType(key.size()), a), v, a);
        }
        return true;
      }
    }
    return true;
  }
};

// Reads a foreign layout's members one by one; what it does not map is a warning.
struct Foreign {
  std::vector<std::string> &warnings;
  void ignored(const std::string &path, const std::string &why = "") {
    warnings.push_back(path + ": ignored" + (why.empty() ? "" : " (" + why + ")"));
  }
};

const JsonValue *get(const JsonValue &obj, const char *name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

std::string str(const JsonValue *v) { return v && v->IsString() ? std::string(sv(*v)) : ""; }

// A provider name of llm.yaml or a LiteLLM model prefix, as an llmsvc provider; "" for one
// llmsvc does not speak.
std::string provider_of(const std::string &name) {
  if (name == "openai" || name == "openai_chat" || name == "text-completion-openai") return "openai_chat";
  if (name == "openai_responses") return "openai_responses";
  if (name == "anthropic" || name == "claude") return "anthropic";
  if (name == "ollama" || name == "ollama_chat") return "ollama";
  if (name == "azure" || name == "azure_openai") return "azure_openai";
  if (name == "gemini") return "gemini";  // LiteLLM's gemini/ is Google AI Studio's API
  return "";
}

// llm.yaml: providers.<name>.{api_keys, models, rate_limits} as parallel lists, paired
// position by position (a shorter list starts over), one round-robin pool per provider.
DocError from_module(const JsonValue &in, const std::string &file,
                     const std::map<std::string, YAML::Mark> &marks, JsonDoc &out,
                     std::vector<std::string> &warnings) {
  Foreign f{warnings};
  auto &a = out.GetAllocator();
  auto at = [&](const std::string &path) {
    auto it = marks.find(path);
    return where(file, it == marks.end() ? YAML::Mark::null_mark() : it->second);
  };
  out.SetObject();
  JsonValue deployments(rapidjson::kArrayType);
  std::string first_group;
  for (auto m = in.MemberBegin(); m != in.MemberEnd(); ++m) {
    std::string key(sv(m->name));
    if (key != "providers") f.ignored("config." + key, "llm.yaml layout: only providers is read");
  }
  const JsonValue &providers = in["providers"];
  if (!providers.IsObject()) return {LLMSVC_ESCHEMA, at("config.providers") + ": config.providers: expected a map of providers"};
  for (auto p = providers.MemberBegin(); p != providers.MemberEnd(); ++p) {
    std::string name(sv(p->name));
    std::string path = "config.providers." + name;
    std::string provider = provider_of(name);
    if (provider.empty())
      return {LLMSVC_ESCHEMA, at(path) + ": " + path + ": \"" + name +
                                  "\" is not a provider llmsvc speaks (openai, openai_responses, "
                                  "anthropic, ollama, azure_openai)"};
    const JsonValue &v = p->value;
    if (!v.IsObject()) return {LLMSVC_ESCHEMA, at(path) + ": " + path + ": expected a map"};
    auto list = [&](const char *member, std::vector<const JsonValue *> &items) -> DocError {
      const JsonValue *l = get(v, member);
      if (!l) return {};
      if (l->IsArray()) {
        for (const auto &x : l->GetArray()) items.push_back(&x);
      } else {
        items.push_back(l);
      }
      return {};
    };
    std::vector<const JsonValue *> keys, models, limits;
    list("api_keys", keys);
    if (const JsonValue *k = get(v, "api_key")) keys.push_back(k);
    list("models", models);
    if (const JsonValue *mo = get(v, "model")) models.push_back(mo);
    list("rate_limits", limits);
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      std::string k(sv(m->name));
      if (k != "api_keys" && k != "api_key" && k != "models" && k != "model" &&
          k != "rate_limits" && k != "base_url" && k != "api_base")
        f.ignored(path + "." + k);
    }
    if (models.empty())
      return {LLMSVC_ESCHEMA, at(path) + ": " + path + ".models: missing (at least one model)"};
    size_t n = std::max({keys.size(), models.size(), limits.size()});
    std::string base = str(get(v, "base_url"));
    if (base.empty()) base = str(get(v, "api_base"));
    for (size_t i = 0; i < n; ++i) {
      JsonValue d(rapidjson::kObjectType);
      std::string dname = name + "#" + std::to_string(i + 1);
      d.AddMember("name", JsonValue(dname.c_str(), a), a);
      d.AddMember("group", JsonValue(name.c_str(), a), a);
      d.AddMember("provider", JsonValue(provider.c_str(), a), a);
      d.AddMember("model", JsonValue(*models[i % models.size()], a), a);
      if (!keys.empty()) d.AddMember("api_key", JsonValue(*keys[i % keys.size()], a), a);
      if (!base.empty()) d.AddMember("base_url", JsonValue(base.c_str(), a), a);
      if (!limits.empty()) {
        const JsonValue &l = *limits[i % limits.size()];
        std::string lpath = path + ".rate_limits[" + std::to_string(i % limits.size()) + "]";
        if (!l.IsObject()) return {LLMSVC_ESCHEMA, at(lpath) + ": " + lpath + ": expected a map of limits"};
        JsonValue lim(rapidjson::kObjectType);
        for (auto m = l.MemberBegin(); m != l.MemberEnd(); ++m) {
          std::string k(sv(m->name));
          const char *to = k == "requests_per_minute"        ? "rpm"
                           : k == "tokens_per_minute"        ? "tpm"
                           : k == "input_tokens_per_minute"  ? "itpm"
                           : k == "output_tokens_per_minute" ? "otpm"
                           : k == "concurrency"              ? "concurrency"
                                                             : nullptr;
          if (!to) {
            if (i < limits.size()) f.ignored(lpath + "." + k);
            continue;
          }
          lim.AddMember(JsonValue(to, a), JsonValue(m->value, a), a);
        }
        d.AddMember("limits", lim, a);
      }
      deployments.PushBack(d, a);
    }
    if (first_group.empty()) first_group = name;
  }
  if (first_group.empty()) return {LLMSVC_ESCHEMA, at("config.providers") + ": config.providers: no provider"};
  out.AddMember("model", JsonValue(first_group.c_str(), a), a);
  out.AddMember("deployments", deployments, a);
  return {};
}

// LiteLLM's config.yaml: model_list, router_settings, litellm_settings.
DocError from_litellm(const JsonValue &in, const std::string &file,
                      const std::map<std::string, YAML::Mark> &marks, JsonDoc &out,
                      std::vector<std::string> &warnings) {
  Foreign f{warnings};
  auto &a = out.GetAllocator();
  auto at = [&](const std::string &path) {
    auto it = marks.find(path);
    return where(file, it == marks.end() ? YAML::Mark::null_mark() : it->second);
  };
  auto wrong = [&](const std::string &path, const std::string &why) {
    return DocError{LLMSVC_ESCHEMA, at(path) + ": " + path + ": " + why};
  };
  // A number given in seconds (LiteLLM's timeouts and cool-downs) as milliseconds.
  // Beyond int64 it stays a number, which parse_config then refuses by name.
  auto ms = [](const JsonValue &v) {
    double x = v.GetDouble() * 1000;
    return x > -9e18 && x < 9e18 ? JsonValue(int64_t(std::llround(x))) : JsonValue(x);
  };
  out.SetObject();
  JsonValue deployments(rapidjson::kArrayType), retry(rapidjson::kObjectType),
      timeouts(rapidjson::kObjectType), routing(rapidjson::kObjectType),
      fallbacks(rapidjson::kObjectType), breaker(rapidjson::kObjectType),
      shared(rapidjson::kObjectType), cache(rapidjson::kObjectType);
  std::map<std::string, int> per_group;
  std::string first_alias;
  for (auto m = in.MemberBegin(); m != in.MemberEnd(); ++m) {
    std::string key(sv(m->name));
    if (key != "model_list" && key != "router_settings" && key != "litellm_settings")
      f.ignored("config." + key);
  }
  const JsonValue &list = in["model_list"];
  if (!list.IsArray() || list.Empty()) return wrong("config.model_list", "expected a non-empty list");
  bool any_weight = false;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    std::string path = "config.model_list[" + std::to_string(i) + "]";
    const JsonValue &e = list[i];
    std::string alias = str(get(e, "model_name"));
    if (alias.empty()) return wrong(path + ".model_name", "missing (the name requests use)");
    const JsonValue *params = get(e, "litellm_params");
    if (!params || !params->IsObject()) return wrong(path + ".litellm_params", "expected a map");
    for (auto m = e.MemberBegin(); m != e.MemberEnd(); ++m) {
      std::string k(sv(m->name));
      if (k != "model_name" && k != "litellm_params") f.ignored(path + "." + k);
    }
    std::string model = str(get(*params, "model"));
    if (model.empty()) return wrong(path + ".litellm_params.model", "missing (provider/model)");
    JsonValue d(rapidjson::kObjectType);
    std::string dname = alias + "#" + std::to_string(++per_group[alias]);
    d.AddMember("name", JsonValue(dname.c_str(), a), a);
    d.AddMember("group", JsonValue(alias.c_str(), a), a);
    if (size_t slash = model.find('/'); slash != std::string::npos) {
      std::string prefix = model.substr(0, slash);
      std::string provider = provider_of(prefix);
      if (provider.empty())
        return wrong(path + ".litellm_params.model",
                     "\"" + prefix + "/\" is not a provider llmsvc speaks (openai/, anthropic/, "
                     "ollama/, ollama_chat/, azure/, gemini/)");
      d.AddMember("provider", JsonValue(provider.c_str(), a), a);
      model = model.substr(slash + 1);
      // LiteLLM's azure/NAME names the Azure deployment.
      if (provider == "azure_openai") d.AddMember("azure_deployment", JsonValue(model.c_str(), a), a);
    }
    d.AddMember("model", JsonValue(model.c_str(), a), a);
    JsonValue limits(rapidjson::kObjectType);
    for (auto m = params->MemberBegin(); m != params->MemberEnd(); ++m) {
      std::string k(sv(m->name));
      std::string kpath = path + ".litellm_params." + k;
      const JsonValue &v = m->value;
      if (k == "model") continue;
      if (k == "api_base") d.AddMember("base_url", JsonValue(v, a), a);
      else if (k == "api_key") d.AddMember("api_key", JsonValue(v, a), a);
      else if (k == "api_version") d.AddMember("api_version", JsonValue(v, a), a);
      else if (k == "rpm" || k == "tpm") {
        limits.AddMember(JsonValue(k.c_str(), a), JsonValue(v, a), a);
        if (k == "rpm" && v.IsInt64() && v.GetInt64() > 0) {
          d.AddMember("weight", JsonValue(v, a), a);  // LiteLLM's shuffle weighs by rpm
          any_weight = true;
        }
      } else if (k == "timeout" && v.IsNumber()) {
        if (timeouts.HasMember("request_ms") && timeouts["request_ms"] != ms(v))
          f.ignored(kpath, "one request timeout for the whole client: the first given is used");
        else if (!timeouts.HasMember("request_ms"))
          timeouts.AddMember("request_ms", ms(v), a);
      } else if (k == "max_retries" && v.IsInt64()) {
        if (!retry.HasMember("max_attempts")) retry.AddMember("max_attempts", JsonValue(v.GetInt64() + 1), a);
        else f.ignored(kpath, "one retry policy for the whole client: the first given is used");
      } else {
        f.ignored(kpath);
      }
    }
    if (limits.MemberCount()) d.AddMember("limits", limits, a);
    deployments.PushBack(d, a);
    if (first_alias.empty()) first_alias = alias;
  }
  auto settings = [&](const char *section) {
    const JsonValue *s = get(in, section);
    std::string spath = std::string("config.") + section;
    if (!s) return DocError{};
    if (!s->IsObject()) return wrong(spath, "expected a map");
    for (auto m = s->MemberBegin(); m != s->MemberEnd(); ++m) {
      std::string k(sv(m->name));
      std::string kpath = spath + "." + k;
      const JsonValue &v = m->value;
      if (k == "num_retries" && v.IsInt64()) {
        retry.RemoveMember("max_attempts");
        retry.AddMember("max_attempts", JsonValue(v.GetInt64() + 1), a);
      } else if ((k == "request_timeout" || k == "timeout") && v.IsNumber()) {
        timeouts.RemoveMember("request_ms");
        timeouts.AddMember("request_ms", ms(v), a);
      } else if (k == "fallbacks" && v.IsArray()) {
        // [{"gpt-4o": ["gpt-4o-mini"]}, ...]
        for (const auto &one : v.GetArray())
          if (one.IsObject())
            for (auto fb = one.MemberBegin(); fb != one.MemberEnd(); ++fb)
              fallbacks.AddMember(JsonValue(fb->name, a), JsonValue(fb->value, a), a);
      } else if (k == "routing_strategy" && v.IsString()) {
        std::string s2(sv(v));
        const char *to = s2 == "simple-shuffle"                                      ? "weighted"
                         : s2 == "least-busy"                                        ? "least_loaded"
                         : s2 == "usage-based-routing" || s2 == "usage-based-routing-v2" ? "least_loaded"
                         : s2 == "latency-based-routing"                             ? "lowest_latency"
                                                                                     : nullptr;
        if (to) routing.AddMember("strategy", JsonValue(to, a), a);
        else f.ignored(kpath, "no llmsvc routing strategy like \"" + s2 + "\"");
      } else if (k == "allowed_fails" && v.IsInt64()) {
        breaker.AddMember("failures", JsonValue(v, a), a);
      } else if (k == "cooldown_time" && v.IsNumber()) {
        breaker.AddMember("cooldown_ms", ms(v), a);
      } else if (k == "redis_host" && v.IsString()) {
        shared.AddMember("host", JsonValue(v, a), a);
      } else if (k == "redis_port" && v.IsInt64()) {
        shared.AddMember("port", JsonValue(v, a), a);
      } else if (k == "redis_password" && v.IsString()) {
        shared.AddMember("password", JsonValue(v, a), a);
      } else if (k == "cache" && v.IsBool()) {
        if (v.GetBool()) cache.AddMember("memory", true, a);
      } else if (k == "cache_params" && v.IsObject()) {
        std::string type = str(get(v, "type"));
        if (type == "local" || type.empty()) {
          if (!cache.HasMember("memory")) cache.AddMember("memory", true, a);
        } else {
          f.ignored(kpath, "llmsvc caches in memory and in SQLite, not in \"" + type + "\"");
        }
      } else {
        f.ignored(kpath);
      }
    }
    return DocError{};
  };
  if (DocError e = settings("router_settings")) return e;
  if (DocError e = settings("litellm_settings")) return e;
  if (fallbacks.MemberCount()) routing.AddMember("fallbacks", fallbacks, a);
  if (!routing.HasMember("strategy") && any_weight) routing.AddMember("strategy", "weighted", a);
  out.AddMember("model", JsonValue(first_alias.c_str(), a), a);
  out.AddMember("deployments", deployments, a);
  if (routing.MemberCount()) out.AddMember("routing", routing, a);
  if (retry.MemberCount()) out.AddMember("retry", retry, a);
  if (timeouts.MemberCount()) out.AddMember("timeouts", timeouts, a);
  if (breaker.MemberCount()) out.AddMember("circuit_breaker", breaker, a);
  if (shared.MemberCount()) {
    if (!shared.HasMember("port") || !shared.HasMember("host")) {
      if (!shared.HasMember("host")) f.ignored("config.router_settings.redis_port", "no redis_host");
      else shared.AddMember("port", 6379, a);
    }
    if (shared.HasMember("host")) out.AddMember("shared_limits", shared, a);
  }
  if (cache.MemberCount()) out.AddMember("cache", cache, a);
  return {};
}

}  // namespace

namespace {

// Values read from the environment out of a message: an error may quote what a field holds
// (a provider name, a URL), and the environment holds secrets.
void hide(std::string &msg, const std::vector<std::string> &taken) {
  for (const std::string &v : taken) {
    if (v.size() < 4) continue;  // too short to be a secret, too common to cut out of text
    for (size_t at = msg.find(v); at != std::string::npos; at = msg.find(v, at))
      msg.replace(at, v.size(), "[from the environment]");
  }
}

// load_config_text without hiding the values read from the environment in its messages.
DocError load_config_unhidden(std::string_view text, const std::string &name, LoadedConfig &out);

}  // namespace

DocError load_config_text(std::string_view text, const std::string &name, LoadedConfig &out) {
  DocError err = load_config_unhidden(text, name, out);
  hide(err.message, out.taken);
  for (std::string &w : out.warnings) hide(w, out.taken);
  out.taken.clear();
  return err;
}

namespace {

DocError load_config_unhidden(std::string_view text, const std::string &name, LoadedConfig &out) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception &e) {
    return {LLMSVC_EJSON, where(name, e.mark) + ": not YAML (or JSON): " + e.msg};
  }
  std::map<std::string, YAML::Mark> marks;
  Converter c{name, marks};
  JsonDoc doc;
  bool converted = false;
  try {
    converted = c.convert(root, doc, doc.GetAllocator(), "config", 0);
  } catch (const YAML::Exception &e) {
    return {LLMSVC_EJSON, where(name, e.mark) + ": not YAML (or JSON): " + e.msg};
  }
  out.taken = std::move(c.taken);
  if (!converted) return c.err;
  if (!doc.IsObject())
    return {LLMSVC_ESCHEMA, where(name, root.Mark()) + ": config: expected a map, got " +
                                json_type_name(doc)};
  JsonDoc native;
  DocError err;
  if (doc.HasMember("model_list")) {
    out.layout = "litellm";
    err = from_litellm(doc, name, marks, native, out.warnings);
  } else if (const JsonValue *p = get(doc, "providers"); p && p->IsObject()) {
    out.layout = "llm.yaml";
    err = from_module(doc, name, marks, native, out.warnings);
  } else {
    out.layout = "llmsvc";
    native.CopyFrom(doc, native.GetAllocator());
  }
  if (err) return err;
  out.json = json_text(native);
  // The document as llmsvc reads it; an error names where its field is in the file.
  Config check;
  if (DocError bad = parse_config(out.json.c_str(), check)) {
    std::string msg = bad.message;
    std::string best;
    for (const auto &[path, mark] : marks)
      if (out.layout == "llmsvc" && msg.compare(0, path.size(), path) == 0 &&
          (msg.size() == path.size() || msg[path.size()] == ':' || msg[path.size()] == '.' ||
           msg[path.size()] == '[') &&
          path.size() > best.size())
        best = path;
    YAML::Mark m = best.empty() ? root.Mark() : marks[best];
    return {bad.status, where(name, m) + ": " + msg};
  }
  return {};
}

}  // namespace

DocError load_config_file(const std::string &path, LoadedConfig &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {LLMSVC_EINVAL, path + ": cannot open the file"};
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return {LLMSVC_EINVAL, path + ": read error"};
  return load_config_text(ss.str(), path, out);
}

}  // namespace llmsvc
