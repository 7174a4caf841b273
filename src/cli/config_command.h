// llmsvc config check|convert FILE: a configuration file as the library reads it.
#pragma once

namespace llmsvc_cli {

/// The arguments after "config". Returns the exit status.
int config_command(int argc, char **argv);

}  // namespace llmsvc_cli
