// Tools and the rest of the request surface: the request document, each provider's wire
// body, and what each provider's reply and stream give back.
#include <gtest/gtest.h>

#include "providers/anthropic.h"
#include "providers/fields.h"
#include "providers/ollama.h"
#include "providers/openai_chat.h"
#include "providers/openai_responses.h"

using namespace llmsvc;

namespace {

Config config(const char *provider) {
  Config c;
  c.provider = provider;
  c.base_url = "http://127.0.0.1:9/v1";
  c.api_key = "sk-secret";
  return c;
}

RequestSpec request(const std::string &json) {
  RequestSpec r;
  DocError err = parse_request(json, "", r);
  EXPECT_FALSE(err) << err.message;
  return r;
}

std::string refused(const std::string &json) {
  RequestSpec r;
  DocError err = parse_request(json, "", r);
  EXPECT_EQ(err.status, LLMSVC_ESCHEMA) << json;
  return err.message;
}

JsonDoc body_of(const Provider &p, const RequestSpec &r) {
  JsonBuffer buf;
  p.build_body(r, buf);
  JsonDoc doc;
  EXPECT_FALSE(parse_json(doc, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  return doc;
}

std::string json_of(const JsonValue &v) {
  JsonBuffer buf;
  JsonWriter w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// A two-round conversation: the user asks, the model called a tool, the tool answered.
const std::string kWeather = R"({"type":"function","function":{"name":"get_weather",
    "description":"The weather in a city","parameters":{"type":"object",
    "properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}})";
const std::string kRound = R"("messages":[
    {"role":"user","content":"Weather in Paris?"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
    {"role":"tool","tool_call_id":"call_1","content":"18 C, clear"}])";

}  // namespace

TEST(Tools, RequestAcceptsToolsAsOpenAIAndResponsesUsersWriteThem) {
  RequestSpec r = request(R"({"model":"m","prompt":"x","tools":[)" + kWeather +
                          R"(,{"type":"function","name":"flat","parameters":{"type":"object"}}],)"
                          R"("tool_choice":{"type":"function","function":{"name":"get_weather"}},)"
                          R"("parallel_tool_calls":false})");
  ASSERT_EQ(r.tools.size(), 2u);
  EXPECT_EQ(r.tools[0].name, "get_weather");
  EXPECT_TRUE(r.tools[0].strict && *r.tools[0].strict);
  EXPECT_NE(r.tools[0].parameters, nullptr);
  EXPECT_EQ(r.tools[1].name, "flat");
  EXPECT_EQ(r.tool_choice, ToolChoice::kNamed);
  EXPECT_EQ(r.tool_choice_name, "get_weather");
  EXPECT_FALSE(*r.parallel_tool_calls);
  RequestSpec round = request(R"({"model":"m",)" + kRound + R"(,"tools":[)" + kWeather + "]}");
  ASSERT_EQ(round.messages.size(), 3u);
  EXPECT_TRUE(round.messages[1].parts.empty());
  ASSERT_EQ(round.messages[1].tool_calls.size(), 1u);
  EXPECT_EQ(round.messages[1].tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(round.messages[2].tool_call_id, "call_1");
}

TEST(Tools, BadToolInputIsRefusedWithTheField) {
  const std::string m = R"({"model":"m","prompt":"x",)";
  EXPECT_EQ(refused(m + R"("tools":[{"type":"function","function":{"name":"t","parameters":{"properties":"no"}}}]})"),
            "request.tools[0].function.parameters: /properties is not an object of schemas");
  EXPECT_EQ(refused(m + R"("tools":[{"type":"function","function":{"name":"t","parameters":{"type":"strin"}}}]})"),
            "request.tools[0].function.parameters: /type is not a JSON type name (null, boolean, "
            "object, array, number, string, integer) or a list of them");
  EXPECT_EQ(refused(m + R"("tools":[{"type":"function","function":{"name":"t","parameters":{"required":"x"}}}]})"),
            "request.tools[0].function.parameters: /required is not an array of property names");
  EXPECT_EQ(refused(m + R"("tools":[{"type":"function","function":{"name":"a b"}}]})"),
            "request.tools[0].function.name: use 1 to 64 letters, digits, _ or -");
  EXPECT_EQ(refused(m + R"("tools":[{"type":"retrieval"}]})"),
            "request.tools[0].type: expected \"function\" (function tools are what every provider takes)");
  EXPECT_NE(refused(m + R"("tools":[)" + kWeather + "," + kWeather + "]}").find("a second tool named"),
            std::string::npos);
  EXPECT_EQ(refused(m + R"("tools":[)" + kWeather + R"(],"tool_choice":"sometimes"})"),
            "request.tool_choice: \"sometimes\" is not one of auto, none, required or a named tool");
  EXPECT_EQ(refused(m + R"("tools":[)" + kWeather + R"(],"tool_choice":{"type":"function","name":"nope"}})"),
            "request.tool_choice: names \"nope\", which request.tools does not offer");
  EXPECT_EQ(refused(m + R"("tool_choice":"required"})"), "request.tool_choice: given without request.tools");
  EXPECT_EQ(refused(R"({"model":"m","messages":[{"role":"user","content":"x"},
      {"role":"tool","tool_call_id":"call_9","content":"r"}]})"),
            "request.messages[1].tool_call_id: \"call_9\" answers no tool call of an earlier assistant message");
  EXPECT_EQ(refused(R"({"model":"m","messages":[{"role":"tool","content":"r"}]})"),
            "request.messages[0].tool_call_id: missing (a tool message answers one tool call)");
  EXPECT_EQ(refused(R"({"model":"m","messages":[{"role":"user","content":"x","tool_calls":[]}]})"),
            "request.messages[0].tool_calls: only assistant messages carry tool calls");
  EXPECT_EQ(refused(m + R"("extra_body":[1]})"), "request.extra_body: expected an object, got an array");
  EXPECT_EQ(refused(m + R"("extra_headers":{"Authorization":"Bearer other"}})"),
            "request.extra_headers.Authorization: is set by the library (credentials and framing cannot be replaced)");
  EXPECT_EQ(refused(m + R"("extra_headers":{"x-a":"b\r\nx-api-key: k"}})"),
            "request.extra_headers.x-a: has a line break in its value");
  EXPECT_EQ(refused(m + R"("top_logprobs":3})"), "request.top_logprobs: needs \"logprobs\": true");
  EXPECT_EQ(refused(m + R"("n":0})"), "request.n: 0 is out of range [1, 128]");
  EXPECT_EQ(refused(m + R"("frequency_penalty":3})"),
            "request.frequency_penalty: 3.000000 is out of range [-2.000000, 2.000000]");
  EXPECT_EQ(refused(m + R"("logit_bias":{"abc":1}})"), "request.logit_bias: \"abc\" is not a token id");
  EXPECT_EQ(refused(m + R"("service_tier":"gold"})"),
            "request.service_tier: \"gold\" is not one of auto, default, flex, priority");
  EXPECT_EQ(refused(m + R"("response_format":{"type":"yaml"}})"),
            "request.response_format.type: \"yaml\" is not one of text, json_object, json_schema");
  EXPECT_EQ(refused(m + R"("thinking":{"type":"enabled","budget_tokens":100}})"),
            "request.thinking.budget_tokens: 100 is out of range [1024, 2147483647]");
}

TEST(Tools, OpenAIChatBodyCarriesEveryField) {
  OpenAIChatProvider p(config("openai_chat"));
  RequestSpec r = request(R"({"model":"gpt-4o-mini",)" + kRound + R"(,"tools":[)" + kWeather +
                          R"(],"tool_choice":"auto","parallel_tool_calls":true,"frequency_penalty":0.5,)"
                          R"("presence_penalty":-0.5,"logit_bias":{"50256":-100},"n":2,"logprobs":true,)"
                          R"("top_logprobs":3,"response_format":{"type":"json_object"},)"
                          R"("service_tier":"flex","prompt_cache_key":"k1","extra_body":{"store":true,"n":3}})");
  EXPECT_EQ(p.unsupported(r), "");
  JsonBuffer buf;
  p.build_body(r, buf);
  merge_extra_body(buf, r.extra_body_json);
  JsonDoc d;
  ASSERT_FALSE(parse_json(d, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  EXPECT_EQ(json_of(d["messages"][1]),
            R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
            R"("function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]})");
  EXPECT_EQ(json_of(d["messages"][2]), R"({"role":"tool","content":"18 C, clear","tool_call_id":"call_1"})");
  EXPECT_STREQ(d["tools"][0]["function"]["name"].GetString(), "get_weather");
  EXPECT_TRUE(d["tools"][0]["function"]["strict"].GetBool());
  EXPECT_STREQ(d["tool_choice"].GetString(), "auto");
  EXPECT_TRUE(d["parallel_tool_calls"].GetBool());
  EXPECT_EQ(d["frequency_penalty"].GetDouble(), 0.5);
  EXPECT_EQ(d["logit_bias"]["50256"].GetInt(), -100);
  EXPECT_EQ(d["n"].GetInt(), 3) << "extra_body replaces what the library wrote";
  EXPECT_TRUE(d["store"].GetBool());
  EXPECT_TRUE(d["logprobs"].GetBool());
  EXPECT_EQ(d["top_logprobs"].GetInt(), 3);
  EXPECT_STREQ(d["response_format"]["type"].GetString(), "json_object");
  EXPECT_STREQ(d["service_tier"].GetString(), "flex");
  EXPECT_STREQ(d["prompt_cache_key"].GetString(), "k1");
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","top_k":5})")), "");
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","n":2,"stream":true})")), "");
}

TEST(Tools, OpenAIChatReplyWithToolCallsChoicesAndLogprobs) {
  OpenAIChatProvider p(config("openai_chat"));
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"id":"c1","model":"gpt-4o-mini","service_tier":"flex","choices":[
      {"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
        {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"call_b","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
       "finish_reason":"tool_calls","logprobs":{"content":[{"token":"x","logprob":-0.1,"bytes":[120],"top_logprobs":[]}]}},
      {"index":1,"message":{"role":"assistant","content":"Sunny."},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":10,"completion_tokens":5}})",
                            r, err))
      << err;
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[1].id, "call_b");
  EXPECT_EQ(r.tool_calls[1].arguments, R"({"city":"Rome"})");
  EXPECT_EQ(r.finish_reason, "tool_calls");
  EXPECT_EQ(r.service_tier, "flex");
  EXPECT_EQ(r.logprobs_json, R"([{"token":"x","logprob":-0.1,"bytes":[120],"top_logprobs":[]}])");
  ASSERT_EQ(r.choices.size(), 2u);
  EXPECT_EQ(r.choices[1].text, "Sunny.");
  EXPECT_EQ(r.choices[1].finish_reason, "stop");
}

TEST(Tools, OpenAIChatStreamedToolCallsArriveAsPieces) {
  OpenAIChatProvider p(config("openai_chat"));
  StreamState st;
  ProviderError e;
  std::string delta;
  for (const char *chunk :
       {R"({"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\""}}]}}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":\"Paris\"}"}}]}}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"other","arguments":"{}"}}]}}]})",
        R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"}) {
    ASSERT_TRUE(p.on_stream_event({"", chunk}, st, delta, e)) << e.message;
    EXPECT_EQ(delta, "");
  }
  ASSERT_EQ(st.reply.tool_calls.size(), 2u);
  EXPECT_EQ(st.reply.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(st.reply.tool_calls[1].name, "other");
  EXPECT_EQ(st.reply.finish_reason, "tool_calls");
  ASSERT_EQ(st.tool_pieces.size(), 4u);
  EXPECT_EQ(st.tool_pieces[0].id, "call_a");
  EXPECT_EQ(st.tool_pieces[0].name, "get_weather");
  EXPECT_EQ(st.tool_pieces[1].arguments, "{\"city\"");
  EXPECT_EQ(st.tool_pieces[3].index, 1u);
}

TEST(Tools, ResponsesBodyAndReplyUseItems) {
  OpenAIResponsesProvider p(config("openai_responses"));
  RequestSpec r = request(R"({"model":"gpt-4o",)" + kRound + R"(,"tools":[)" + kWeather +
                          R"(],"tool_choice":"required","logprobs":true,"top_logprobs":2,)"
                          R"("response_format":{"type":"json_object"},"service_tier":"priority"})");
  EXPECT_EQ(p.unsupported(r), "");
  JsonDoc d = body_of(p, r);
  EXPECT_EQ(json_of(d["input"][1]),
            R"({"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"})");
  EXPECT_EQ(json_of(d["input"][2]), R"({"type":"function_call_output","call_id":"call_1","output":"18 C, clear"})");
  EXPECT_STREQ(d["tools"][0]["name"].GetString(), "get_weather");
  EXPECT_FALSE(d["tools"][0].HasMember("function"));
  EXPECT_STREQ(d["tool_choice"].GetString(), "required");
  EXPECT_STREQ(d["include"][0].GetString(), "message.output_text.logprobs");
  EXPECT_STREQ(d["text"]["format"]["type"].GetString(), "json_object");
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","n":2})")), "");
  ProviderReply reply;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"id":"resp_1","model":"gpt-4o","status":"completed","output":[
      {"type":"function_call","id":"fc_1","call_id":"call_x","name":"get_weather","arguments":"{\"city\":\"Oslo\"}","status":"completed"}],
      "usage":{"input_tokens":20,"output_tokens":7}})",
                            reply, err))
      << err;
  ASSERT_EQ(reply.tool_calls.size(), 1u);
  EXPECT_EQ(reply.tool_calls[0].id, "call_x");
  EXPECT_EQ(reply.finish_reason, "tool_calls");
  StreamState st;
  ProviderError e;
  std::string delta;
  ASSERT_TRUE(p.on_stream_event({"response.output_item.added", R"({"output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_x","name":"get_weather","arguments":""}})"}, st, delta, e));
  ASSERT_TRUE(p.on_stream_event({"response.function_call_arguments.delta", R"({"output_index":0,"item_id":"fc_1","delta":"{\"city\":"})"}, st, delta, e));
  ASSERT_TRUE(p.on_stream_event({"response.function_call_arguments.delta", R"({"output_index":0,"item_id":"fc_1","delta":"\"Oslo\"}"})"}, st, delta, e));
  ASSERT_EQ(st.reply.tool_calls.size(), 1u);
  EXPECT_EQ(st.reply.tool_calls[0].arguments, R"({"city":"Oslo"})");
  EXPECT_EQ(st.tool_pieces.size(), 3u);
}

TEST(Tools, AnthropicBodyHasToolUseToolResultThinkingAndBreakpoints) {
  AnthropicProvider p(config("anthropic"));
  RequestSpec r = request(R"({"model":"claude-sonnet-4-5","max_output_tokens":4000,"messages":[
      {"role":"system","content":[{"type":"text","text":"long rules","cache_control":{"type":"ephemeral","ttl":"1h"}}]},
      {"role":"user","content":"Weather in Paris and Rome?"},
      {"role":"assistant","content":[{"type":"thinking","thinking":"two cities","signature":"sig=="},
        {"type":"text","text":"Checking."}],"tool_calls":[
        {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
      {"role":"tool","tool_call_id":"toolu_1","content":"18 C"},
      {"role":"tool","tool_call_id":"toolu_2","content":"24 C"}],
      "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}},
                "cache_control":{"type":"ephemeral"}},{"type":"function","name":"noargs"}],
      "parallel_tool_calls":false,"thinking":{"type":"enabled","budget_tokens":2048},"top_k":40,
      "stop_sequences":["END"]})");
  EXPECT_EQ(p.unsupported(r), "");
  JsonDoc d = body_of(p, r);
  EXPECT_EQ(json_of(d["system"]),
            R"([{"type":"text","text":"long rules","cache_control":{"type":"ephemeral","ttl":"1h"}}])");
  ASSERT_EQ(d["messages"].Size(), 3u) << "two tool results make one user turn";
  EXPECT_EQ(json_of(d["messages"][1]["content"]),
            R"([{"type":"thinking","thinking":"two cities","signature":"sig=="},{"type":"text","text":"Checking."},)"
            R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},)"
            R"({"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}])");
  EXPECT_EQ(json_of(d["messages"][2]),
            R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18 C"},)"
            R"({"type":"tool_result","tool_use_id":"toolu_2","content":"24 C"}]})");
  EXPECT_EQ(json_of(d["tools"]),
            R"([{"name":"get_weather","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}},)"
            R"({"name":"noargs","input_schema":{"type":"object"}}])");
  EXPECT_EQ(json_of(d["tool_choice"]), R"({"type":"auto","disable_parallel_tool_use":true})");
  EXPECT_EQ(json_of(d["thinking"]), R"({"type":"enabled","budget_tokens":2048})");
  EXPECT_EQ(d["top_k"].GetInt(), 40);
  EXPECT_STREQ(d["stop_sequences"][0].GetString(), "END");
  // Structured output beside tools: the model must call one, its answer being the schema's.
  RequestSpec both = request(R"({"model":"m","prompt":"x","tools":[)" + kWeather +
                             R"(],"json_schema":{"name":"answer","schema":{"type":"object"}}})");
  EXPECT_EQ(p.unsupported(both), "");
  JsonDoc b = body_of(p, both);
  EXPECT_EQ(b["tools"].Size(), 2u);
  EXPECT_EQ(json_of(b["tool_choice"]), R"({"type":"any"})");
  // What Anthropic cannot express is refused with the reason.
  for (const char *field : {R"("logprobs":true)", R"("n":2)", R"("response_format":{"type":"json_object"})",
                            R"("service_tier":"flex")", R"("frequency_penalty":1)"})
    EXPECT_NE(p.unsupported(request(std::string(R"({"model":"m","prompt":"x",)") + field + "}")), "")
        << field;
  EXPECT_NE(p.unsupported(request(R"({"model":"m",)" + std::string(R"("messages":[{"role":"user","content":"x"},
      {"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"[1]"}}]},
      {"role":"tool","tool_call_id":"t","content":"r"}]})"))).find("not one"), std::string::npos);
}

TEST(Tools, AnthropicReplyAndStreamGiveToolCallsThinkingAndCacheWrites) {
  AnthropicProvider p(config("anthropic"));
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"id":"msg_1","model":"claude-sonnet-4-5","stop_reason":"tool_use","content":[
      {"type":"thinking","thinking":"need weather","signature":"c2ln"},
      {"type":"text","text":"Let me check."},
      {"type":"tool_use","id":"toolu_9","name":"get_weather","input":{"city":"Paris"}}],
      "usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":50,
               "cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30},"output_tokens":40}})",
                            r, err))
      << err;
  EXPECT_EQ(r.text, "Let me check.");
  EXPECT_EQ(r.thinking, "need weather");
  EXPECT_EQ(r.thinking_signature, "c2ln");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.finish_reason, "tool_calls");
  EXPECT_EQ(r.usage.cache_write, 50);
  EXPECT_EQ(r.usage.cache_write_1h, 30);
  // 10 fresh at $3, 100 cached at $0.30, 20 five-minute writes at $3.75, 30 one-hour writes
  // at $6, 40 out at $15 (per million), in pico-USD.
  EXPECT_EQ(PriceTable::builtin().cost_pico("claude-sonnet-4-5", r.usage),
            10 * 3000000 + 100 * 300000 + 20 * 3750000 + 30 * 6000000 + 40 * 15000000);
  StreamState st;
  ProviderError e;
  std::string delta;
  for (auto [name, data] : std::vector<std::pair<const char *, const char *>>{
           {"content_block_start", R"({"index":0,"content_block":{"type":"thinking","thinking":""}})"},
           {"content_block_delta", R"({"index":0,"delta":{"type":"thinking_delta","thinking":"hm"}})"},
           {"content_block_delta", R"({"index":0,"delta":{"type":"signature_delta","signature":"c2ln"}})"},
           {"content_block_start", R"({"index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}})"},
           {"content_block_delta", R"({"index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}})"},
           {"content_block_delta", R"({"index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}})"},
           {"message_delta", R"({"delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}})"}}) {
    ASSERT_TRUE(p.on_stream_event({name, data}, st, delta, e)) << e.message;
    EXPECT_EQ(delta, "");
  }
  EXPECT_EQ(st.reply.thinking, "hm");
  EXPECT_EQ(st.reply.thinking_signature, "c2ln");
  ASSERT_EQ(st.reply.tool_calls.size(), 1u);
  EXPECT_EQ(st.reply.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(st.reply.finish_reason, "tool_calls");
}

TEST(Tools, OllamaBodyAndRepliesCarryToolCallsAsObjects) {
  OllamaProvider p(config("ollama"));
  RequestSpec r = request(R"({"model":"llama3.2",)" + kRound + R"(,"tools":[)" + kWeather +
                          R"(],"response_format":{"type":"json_object"},"top_k":20,"frequency_penalty":0.2,)"
                          R"("thinking":{"type":"enabled","budget_tokens":1024}})");
  EXPECT_EQ(p.unsupported(r), "");
  JsonDoc d = body_of(p, r);
  EXPECT_EQ(json_of(d["messages"][1]),
            R"({"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]})");
  EXPECT_EQ(json_of(d["messages"][2]), R"({"role":"tool","content":"18 C, clear","tool_name":"get_weather"})");
  EXPECT_STREQ(d["tools"][0]["function"]["name"].GetString(), "get_weather");
  EXPECT_STREQ(d["format"].GetString(), "json");
  EXPECT_TRUE(d["think"].GetBool());
  EXPECT_EQ(d["options"]["top_k"].GetInt(), 20);
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","tools":[)" + kWeather +
                                  R"(],"tool_choice":"required"})")),
            "");
  ProviderReply reply;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"model":"llama3.2","message":{"role":"assistant","content":"","thinking":"hm",
      "tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":true,"done_reason":"stop",
      "prompt_eval_count":12,"eval_count":8})",
                            reply, err))
      << err;
  ASSERT_EQ(reply.tool_calls.size(), 1u);
  EXPECT_EQ(reply.tool_calls[0].id, "call_0");
  EXPECT_EQ(reply.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(reply.finish_reason, "tool_calls");
  EXPECT_EQ(reply.thinking, "hm");
}

TEST(Tools, ReplyExtrasRoundTripThroughTheCacheForm) {
  ProviderReply r;
  r.tool_calls = {{"call_1", "get_weather", R"({"city":"Paris"})"}};
  r.logprobs_json = R"([{"token":"a","logprob":-1}])";
  r.choices = {{"a", {}, "stop", ""}, {"b", {{"c2", "f", "{}"}}, "tool_calls", "[]"}};
  r.service_tier = "flex";
  r.thinking = "t";
  r.thinking_signature = "s";
  std::string json = encode_reply_extras(r);
  ProviderReply back;
  ASSERT_TRUE(decode_reply_extras(json, back)) << json;
  EXPECT_EQ(encode_reply_extras(back), json);
  EXPECT_EQ(back.choices[1].tool_calls[0].id, "c2");
  EXPECT_EQ(encode_reply_extras(ProviderReply{}), "");
  EXPECT_FALSE(decode_reply_extras(R"({"tool_calls":[["only two","x"]]})", back));
}
