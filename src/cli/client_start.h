// Starting a client for `run` and `chat`: the configuration, and the local emulator when
// no API key and no base URL are configured.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "llmsvc.h"

#include "config.h"
#include "emulator.h"

namespace llmsvc_cli {

struct ClientDeleter {
  void operator()(llmsvc_client *c) const { llmsvc_client_destroy(c); }
};
using ClientPtr = std::unique_ptr<llmsvc_client, ClientDeleter>;

/// Builds the configuration, starts the emulator when needed (saying so through
/// `notice`) and creates the client. Returns "" or a message (a configuration error).
std::string start_client(const ClientOptions &opts, ClientSetup *setup, Emulator *emulator,
                         const std::function<void(const std::string &)> &notice,
                         ClientPtr *client);

}  // namespace llmsvc_cli
