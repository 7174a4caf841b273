// The object behind llmsvc_result.
#pragma once

#include <cstdint>
#include <string>

#include "common/alloc.h"
#include "common/json.h"
#include "llmsvc.h"

struct llmsvc_result : llmsvc::HeapObject {
  uint64_t id = 0;
  int type = LLMSVC_RESULT_COMPLETION;
  int kind = 0;
  int http_status = 0;
  std::string text;
  std::string error_message;
  llmsvc::JsonBuffer json;
  // Taken once when the document is complete: GetString() writes to the buffer.
  const char *json_text = nullptr;
  size_t json_len = 0;
};

struct llmsvc_error {
  int status = 0;
  std::string message;
};
