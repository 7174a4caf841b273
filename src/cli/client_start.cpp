#include "client_start.h"

#include <vector>

namespace llmsvc_cli {

namespace {

std::vector<std::string> emulator_limits(const ClientSetup &s) {
  std::vector<std::string> args;
  const std::pair<const char *, int64_t> limits[] = {
      {"--rpm", s.rpm}, {"--tpm", s.tpm}, {"--itpm", s.itpm}, {"--otpm", s.otpm},
      {"--window-ms", s.window_ms}};
  for (const auto &l : limits) {
    if (l.second <= 0) continue;
    args.push_back(l.first);
    args.push_back(std::to_string(l.second));
  }
  return args;
}

std::string start_emulator(ClientSetup *setup, Emulator *emulator,
                           const std::function<void(const std::string &)> &notice) {
  std::string searched;
  std::string path = find_emulator(&searched);
  if (path.empty())
    return "no API key configured and no base URL, and the local emulator was not found "
           "(looked in " + searched + "); set OPENAI_API_KEY or --base-url";
  std::string err = emulator->start(path, emulator_limits(*setup));
  if (!err.empty()) return "could not start the local emulator: " + err;
  notice("llmsvc: no API key configured: running against the local emulator at " +
         emulator->url() + " (responses are synthetic)");
  use_emulator(setup, emulator->url() + "/v1");
  return "";
}

}  // namespace

std::string start_client(const ClientOptions &opts, ClientSetup *setup, Emulator *emulator,
                         const std::function<void(const std::string &)> &notice,
                         ClientPtr *client) {
  std::string err = load_client_setup(opts, setup);
  if (!err.empty()) return err;
  for (const std::string &w : setup->warnings) notice("llmsvc: " + opts.config_path + ": " + w);
  if (setup->needs_emulator) {
    err = start_emulator(setup, emulator, notice);
    if (!err.empty()) return err;
  }
  llmsvc_client *c = nullptr;
  llmsvc_error *e = nullptr;
  std::string config = config_json(*setup);
  if (llmsvc_client_new(&c, config.c_str(), &e) != LLMSVC_OK) {
    err = std::string("configuration: ") + llmsvc_error_message(e);
    llmsvc_error_free(e);
    return err;
  }
  client->reset(c);
  return "";
}

}  // namespace llmsvc_cli
