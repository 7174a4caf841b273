// The object behind llmsvc_result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/alloc.h"
#include "common/json.h"
#include "core/request.h"
#include "providers/provider.h"
#include "llmsvc.h"

struct llmsvc_result : llmsvc::HeapObject {
  uint64_t id = 0;
  int type = LLMSVC_RESULT_COMPLETION;
  int kind = 0;
  int http_status = 0;
  std::string text;
  std::string error_message;
  // A piece (type LLMSVC_RESULT_DELTA): what it is, and the tool call it belongs to.
  int piece_kind = LLMSVC_PIECE_TEXT;
  uint32_t piece_index = 0;
  std::string call_id;
  std::string call_name;
  // A completion's tool calls, for the typed getters.
  std::vector<llmsvc::ToolCall> tool_calls;
  // The typed view (llmsvc_result_number, _string, _attempt, _choice), filled with the JSON.
  int64_t nums[LLMSVC_NUM_COUNT] = {};
  std::string strs[LLMSVC_STR_COUNT];  // TEXT and ERROR_MESSAGE live in text, error_message
  struct Attempt {
    int64_t nums[LLMSVC_ATTEMPT_COUNT];
    std::string request_id;
    std::string deployment;
  };
  std::vector<Attempt> attempts;
  std::vector<llmsvc::ReplyChoice> choices;  // when the reply has more than one
  std::vector<std::vector<float>> embeddings;  // an embeddings reply's vectors
  llmsvc::JsonBuffer json;
  // Taken once when the document is complete: GetString() writes to the buffer.
  const char *json_text = nullptr;
  size_t json_len = 0;
};

struct llmsvc_error {
  int status = 0;
  std::string message;
};
