#include "http/stream_decoder.h"

#include <gtest/gtest.h>

using llmsvc::StreamDecoder;
using llmsvc::StreamEvent;

namespace {

std::vector<StreamEvent> decode(StreamDecoder::Format f, const std::vector<std::string_view> &pieces) {
  StreamDecoder d(f);
  std::vector<StreamEvent> out;
  for (auto p : pieces) d.feed(p, out);
  d.finish(out);
  return out;
}

// Every way of cutting `body` in two, and byte by byte, gives the same events as one read.
void expect_split_invariant(StreamDecoder::Format f, const std::string &body) {
  std::vector<StreamEvent> whole = decode(f, {body});
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    std::string_view b(body);
    std::vector<StreamEvent> two = decode(f, {b.substr(0, cut), b.substr(cut)});
    ASSERT_EQ(two.size(), whole.size()) << "cut at " << cut;
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(two[i].name, whole[i].name) << "cut at " << cut;
      EXPECT_EQ(two[i].data, whole[i].data) << "cut at " << cut;
    }
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < body.size(); ++i) bytes.push_back(std::string_view(body).substr(i, 1));
  std::vector<StreamEvent> ones = decode(f, bytes);
  ASSERT_EQ(ones.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) EXPECT_EQ(ones[i].data, whole[i].data);
}

}  // namespace

TEST(StreamDecoder, OpenAIChatChunks) {
  const std::string body =
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
      ": keep-alive\n\n"
      "data: [DONE]\n\n";
  auto ev = decode(StreamDecoder::Format::kSse, {body});
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].data, "{\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}");
  EXPECT_EQ(ev[2].data, "[DONE]");
  expect_split_invariant(StreamDecoder::Format::kSse, body);
}

TEST(StreamDecoder, NamedEventsCrLfAndMultiLineData) {
  const std::string body =
      "event: message_start\r\ndata: {\"a\":1}\r\n\r\n"
      "event: ping\rdata: {}\r\r"
      "event: content_block_delta\ndata: line one\ndata: line two\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}";  // no final blank line
  auto ev = decode(StreamDecoder::Format::kSse, {body});
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].name, "message_start");
  EXPECT_EQ(ev[1].name, "ping");
  EXPECT_EQ(ev[2].data, "line one\nline two");
  EXPECT_EQ(ev[3].name, "message_stop");
  expect_split_invariant(StreamDecoder::Format::kSse, body);
}

TEST(StreamDecoder, Ndjson) {
  const std::string body =
      "{\"message\":{\"content\":\"Hel\"},\"done\":false}\n"
      "{\"message\":{\"content\":\"lo\"},\"done\":false}\r\n"
      "\n"
      "{\"done\":true,\"eval_count\":2}";
  auto ev = decode(StreamDecoder::Format::kNdjson, {body});
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[2].data, "{\"done\":true,\"eval_count\":2}");
  expect_split_invariant(StreamDecoder::Format::kNdjson, body);
}
