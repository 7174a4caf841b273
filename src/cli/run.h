// `llmsvc run`: a batch file through the library, results to a file, resumable.
#pragma once

#include "args.h"

namespace llmsvc_cli {

/// Runs the batch and returns the exit code (args.h).
int run_batch(const RunOptions &opts);

}  // namespace llmsvc_cli
