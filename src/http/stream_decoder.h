// Splits a response body into stream events as bytes arrive, however the bytes are cut:
// server-sent events (OpenAI, Anthropic), newline-delimited JSON (Ollama) or AWS's binary
// event stream (Bedrock's ConverseStream: length-prefixed messages with typed headers and a
// CRC32 over the prelude and over the whole message).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmsvc {

struct StreamEvent {
  // SSE "event:" (empty when none); empty for NDJSON. An AWS event stream message: its
  // ":event-type", or "exception:" and its ":exception-type" (or ":error-code"), or
  // kMalformed when the framing is broken (data then says how; the stream cannot go on).
  std::string name;
  std::string data;  // SSE data lines joined by '\n', one NDJSON line, or a message's payload
  static constexpr const char *kMalformed = "!malformed";
};

class StreamDecoder {
 public:
  enum class Format { kSse, kNdjson, kAwsEventStream };
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
  /// Takes every complete event-stream message from partial_.
  void messages(std::vector<StreamEvent> &out);
  bool broken_ = false;  // an event stream whose framing failed: nothing more is read

  Format format_;
  std::string partial_;  // an unfinished line
  bool after_cr_ = false;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace llmsvc
