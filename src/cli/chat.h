// `llmsvc chat`: one request, the answer on standard output.
#pragma once

#include "args.h"

namespace llmsvc_cli {

/// Sends the prompt and prints the answer; returns the exit code (args.h).
int chat(const ChatOptions &opts);

}  // namespace llmsvc_cli
