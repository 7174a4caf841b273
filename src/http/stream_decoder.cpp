#include "http/stream_decoder.h"

namespace llmsvc {

void StreamDecoder::reset(Format format) {
  format_ = format;
  partial_.clear();
  after_cr_ = false;
  event_.clear();
  data_.clear();
  has_data_ = false;
}

void StreamDecoder::feed(std::string_view bytes, std::vector<StreamEvent> &out) {
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
