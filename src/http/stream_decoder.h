// Splits a response body into stream events as bytes arrive, however the bytes are cut:
// server-sent events (OpenAI, Anthropic) or newline-delimited JSON (Ollama).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmsvc {

struct StreamEvent {
  std::string name;  // SSE "event:" (empty when none); empty for NDJSON
  std::string data;  // SSE data lines joined by '\n', or one NDJSON line
};

class StreamDecoder {
 public:
  enum class Format { kSse, kNdjson };
  explicit StreamDecoder(Format format = Format::kSse) : format_(format) {}

  /// Feeds bytes; appends every event they complete to `out`.
  void feed(std::string_view bytes, std::vector<StreamEvent> &out);
  /// The body ended: an event the server did not terminate is complete now.
  void finish(std::vector<StreamEvent> &out);
  void reset(Format format);
  /// Bytes held for the event not yet complete (its data so far and its unfinished line).
  size_t pending_bytes() const { return partial_.size() + data_.size() + event_.size(); }

 private:
  void line(std::string_view l, std::vector<StreamEvent> &out);
  void dispatch(std::vector<StreamEvent> &out);

  Format format_;
  std::string partial_;  // an unfinished line
  bool after_cr_ = false;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace llmsvc
