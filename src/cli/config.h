// The client's configuration document: the config file, overridden by the command line,
// and pointed at the local emulator when no API key and no base URL are configured.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "args.h"

namespace llmsvc_cli {

/// The model used when neither the config, the command line nor a request names one.
constexpr const char kDefaultModel[] = "gpt-4o-mini";

struct ClientSetup {
  rapidjson::Document doc;  // the configuration document (an object)
  std::string model;        // the default model in the document
  bool model_defaulted = false;
  bool needs_emulator = false;  // no key and no base URL: talk to the local emulator
  // The limits in the document, 0 when unlimited (also passed to the emulator).
  int64_t rpm = 0, tpm = 0, itpm = 0, otpm = 0, window_ms = 0;
  std::vector<std::string> warnings;  // what the config file has that llmsvc does not use
};

/// Builds the setup from the options. Returns "" or a message (a configuration error).
std::string load_client_setup(const ClientOptions &opts, ClientSetup *out);
/// Points the configuration at an emulator listening at `base_url`.
void use_emulator(ClientSetup *setup, const std::string &base_url);
/// The configuration document as JSON.
std::string config_json(const ClientSetup &setup);

}  // namespace llmsvc_cli
