#include "http/stream_decoder.h"

#include <zlib.h>

#include <cstdint>

namespace llmsvc {

void StreamDecoder::reset(Format format) {
  format_ = format;
  partial_.clear();
  after_cr_ = false;
  event_.clear();
  data_.clear();
  has_data_ = false;
  broken_ = false;
}

namespace {

uint32_t be32(const char *p) {
  const auto *b = reinterpret_cast<const unsigned char *>(p);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

uint32_t crc(const char *p, size_t n) {
  return uint32_t(::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(p), uInt(n)));
}

// An event stream message's headers: the three that matter here, every type skipped
// correctly. False when they overrun their length.
bool read_headers(std::string_view h, std::string &event_type, std::string &message_type,
                  std::string &exception_type) {
  while (!h.empty()) {
    size_t name_len = static_cast<unsigned char>(h[0]);
    if (h.size() < 1 + name_len + 1) return false;
    std::string_view name = h.substr(1, name_len);
    unsigned type = static_cast<unsigned char>(h[1 + name_len]);
    h.remove_prefix(2 + name_len);
    size_t len;
    switch (type) {
      case 0: case 1: len = 0; break;    // true, false
      case 2: len = 1; break;            // byte
      case 3: len = 2; break;            // short
      case 4: len = 4; break;            // int
      case 5: case 8: len = 8; break;    // long, timestamp
      case 9: len = 16; break;           // uuid
      case 6: case 7: {                  // bytes, string: a 2-byte length first
        if (h.size() < 2) return false;
        len = size_t(static_cast<unsigned char>(h[0])) << 8 | static_cast<unsigned char>(h[1]);
        h.remove_prefix(2);
        break;
      }
      default: return false;
    }
    if (h.size() < len) return false;
    if (type == 7) {
      std::string_view value = h.substr(0, len);
      if (name == ":event-type") event_type.assign(value);
      else if (name == ":message-type") message_type.assign(value);
      else if (name == ":exception-type" || (name == ":error-code" && exception_type.empty()))
        exception_type.assign(value);
    }
    h.remove_prefix(len);
  }
  return true;
}

}  // namespace

void StreamDecoder::messages(std::vector<StreamEvent> &out) {
  size_t at = 0;
  auto fail = [&](std::string why) {
    out.push_back({StreamEvent::kMalformed, std::move(why)});
    broken_ = true;
    partial_.clear();
  };
  while (!broken_ && partial_.size() - at >= 12) {
    const char *m = partial_.data() + at;
    const uint32_t total = be32(m), headers = be32(m + 4);
    if (crc(m, 8) != be32(m + 8))
      return fail("an event stream message's prelude fails its CRC32");
    if (total < 16 || headers > total - 16)
      return fail("an event stream message's lengths are inconsistent (total " +
                  std::to_string(total) + ", headers " + std::to_string(headers) + ")");
    if (partial_.size() - at < total) break;  // the rest is still on its way
    if (crc(m, total - 4) != be32(m + total - 4))
      return fail("an event stream message fails its CRC32");
    std::string event_type, message_type, exception_type;
    if (!read_headers(std::string_view(m + 12, headers), event_type, message_type, exception_type))
      return fail("an event stream message's headers overrun their length");
    std::string payload(m + 12 + headers, total - 16 - headers);
    if (message_type == "event") {
      out.push_back({std::move(event_type), std::move(payload)});
    } else {  // "exception" or "error"
      out.push_back({"exception:" + (exception_type.empty() ? message_type : exception_type),
                     std::move(payload)});
    }
    at += total;
  }
  if (!broken_) partial_.erase(0, at);
}

void StreamDecoder::feed(std::string_view bytes, std::vector<StreamEvent> &out) {
  if (format_ == Format::kAwsEventStream) {
    if (broken_) return;
    partial_.append(bytes);
    messages(out);
    return;
  }
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') {
      after_cr_ = false;
      continue;
    }
    // "\r\n" is one line end; a '\n' right after a '\r' (even across reads) ends nothing.
    bool skip = c == '\n' && after_cr_ && i == start && partial_.empty();
    after_cr_ = c == '\r';
    if (skip) {
      start = i + 1;
      continue;
    }
    if (partial_.empty()) {
      line(bytes.substr(start, i - start), out);
    } else {
      partial_.append(bytes.substr(start, i - start));
      line(partial_, out);
      partial_.clear();
    }
    start = i + 1;
  }
  partial_.append(bytes.substr(start));
}

void StreamDecoder::finish(std::vector<StreamEvent> &out) {
  if (format_ == Format::kAwsEventStream) {
    if (!broken_ && !partial_.empty()) {
      out.push_back({StreamEvent::kMalformed, "the stream ended inside an event stream message"});
      broken_ = true;
    }
    partial_.clear();
    return;
  }
  if (!partial_.empty()) {
    std::string last;
    last.swap(partial_);
    line(last, out);
  }
  if (format_ == Format::kSse) dispatch(out);
}

void StreamDecoder::line(std::string_view l, std::vector<StreamEvent> &out) {
  if (format_ == Format::kNdjson) {
    if (l.find_first_not_of(" \t") != std::string_view::npos) out.push_back({{}, std::string(l)});
    return;
  }
  if (l.empty()) {
    dispatch(out);
    return;
  }
  if (l.front() == ':') return;  // a comment (keep-alive)
  size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  }
  // "id" and "retry" do not matter to a single request's stream.
}

void StreamDecoder::dispatch(std::vector<StreamEvent> &out) {
  if (has_data_) out.push_back({std::move(event_), std::move(data_)});
  event_.clear();
  data_.clear();
  has_data_ = false;
}

}  // namespace llmsvc
