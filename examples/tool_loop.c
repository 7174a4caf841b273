/*
 * A two-round tool loop through the C API: the model asks for a tool, the program runs it
 * and sends the result back, the model answers.
 *
 *   tool_loop BASE_URL [API_KEY] [PROVIDER]
 *
 * BASE_URL is an OpenAI-compatible endpoint (for example the emulator's
 * http://127.0.0.1:PORT/v1); PROVIDER is openai_chat (default), openai_responses,
 * anthropic or ollama. Prints each round and exits 0 when the model answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmsvc.h"

/* The one tool: a weather report for a city (a stand-in for a real lookup). */
static const char *kTools =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"description\":\"The current weather in a city\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"]}}}]";

static const char *run_tool(const char *name, const char *arguments) {
  (void)arguments; /* a real program would read the city from the arguments */
  return strcmp(name, "get_weather") == 0 ? "18 C and clear" : "unknown tool";
}

/* Appends `s` to `out` as the body of a JSON string (without quotes). */
static void append_escaped(char *out, size_t cap, const char *s) {
  size_t n = strlen(out);
  for (; *s && n + 7 < cap; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else if (c < 0x20) {
      n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
    } else {
      out[n++] = (char)c;
    }
  }
  out[n] = '\0';
}

static llmsvc_result *ask(llmsvc_client *client, const char *request) {
  llmsvc_result *result = NULL;
  llmsvc_error *err = NULL;
  if (llmsvc_client_generate(client, request, &result, &err) != LLMSVC_OK) {
    fprintf(stderr, "tool_loop: the request was refused: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    return NULL;
  }
  if (llmsvc_result_kind(result) != LLMSVC_KIND_NONE) {
    fprintf(stderr, "tool_loop: %s: %s\n", llmsvc_error_kind_name(llmsvc_result_kind(result)),
            llmsvc_result_error_message(result));
    llmsvc_result_free(result);
    return NULL;
  }
  return result;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: tool_loop BASE_URL [API_KEY] [PROVIDER]\n");
    return 2;
  }
  char config[1024];
  snprintf(config, sizeof config,
           "{\"provider\":\"%s\",\"base_url\":\"%s\",\"api_key\":\"%s\",\"model\":\"%s\"}",
           argc > 3 ? argv[3] : "openai_chat", argv[1], argc > 2 ? argv[2] : "sk-example",
           argc > 3 && strcmp(argv[3], "anthropic") == 0 ? "claude-haiku-4-5"
           : argc > 3 && strcmp(argv[3], "ollama") == 0  ? "llama3.2"
                                                         : "gpt-4o-mini");
  llmsvc_client *client = NULL;
  llmsvc_error *err = NULL;
  if (llmsvc_client_new(&client, config, &err) != LLMSVC_OK) {
    fprintf(stderr, "tool_loop: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    return 1;
  }
  const char *question = "What is the weather in Paris? Use get_weather.";

  /* Round 1: the question and the tool. */
  char request[8192];
  snprintf(request, sizeof request,
           "{\"tools\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", kTools,
           question);
  llmsvc_result *first = ask(client, request);
  if (!first) return llmsvc_client_destroy(client), 1;
  size_t calls = llmsvc_result_tool_call_count(first);
  printf("round 1: %zu tool call(s)\n", calls);
  if (calls == 0) {
    printf("answer: %s\n", llmsvc_result_text(first));
    llmsvc_result_free(first);
    llmsvc_client_destroy(client);
    return 1; /* this example expects the model to ask for the tool */
  }

  /* Round 2: the conversation so far, the calls and each tool's result. */
  snprintf(request, sizeof request,
           "{\"tools\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"%s\"},"
           "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[",
           kTools, question);
  for (size_t i = 0; i < calls; ++i) {
    const char *id, *name, *arguments;
    llmsvc_result_tool_call(first, i, &id, &name, &arguments);
    printf("  %s(%s) -> %s\n", name, arguments, run_tool(name, arguments));
    strncat(request, i ? ",{\"id\":\"" : "{\"id\":\"", sizeof request - strlen(request) - 1);
    append_escaped(request, sizeof request, id);
    strncat(request, "\",\"type\":\"function\",\"function\":{\"name\":\"",
            sizeof request - strlen(request) - 1);
    append_escaped(request, sizeof request, name);
    strncat(request, "\",\"arguments\":\"", sizeof request - strlen(request) - 1);
    append_escaped(request, sizeof request, arguments);
    strncat(request, "\"}}", sizeof request - strlen(request) - 1);
  }
  strncat(request, "]}", sizeof request - strlen(request) - 1);
  for (size_t i = 0; i < calls; ++i) {
    const char *id, *name, *arguments;
    llmsvc_result_tool_call(first, i, &id, &name, &arguments);
    strncat(request, ",{\"role\":\"tool\",\"tool_call_id\":\"", sizeof request - strlen(request) - 1);
    append_escaped(request, sizeof request, id);
    strncat(request, "\",\"content\":\"", sizeof request - strlen(request) - 1);
    append_escaped(request, sizeof request, run_tool(name, arguments));
    strncat(request, "\"}", sizeof request - strlen(request) - 1);
  }
  strncat(request, "]}", sizeof request - strlen(request) - 1);
  llmsvc_result_free(first);

  llmsvc_result *second = ask(client, request);
  if (!second) return llmsvc_client_destroy(client), 1;
  printf("round 2: %s\n", llmsvc_result_text(second));
  llmsvc_result_free(second);
  llmsvc_client_destroy(client);
  return 0;
}
