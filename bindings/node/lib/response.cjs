'use strict';
// The typed response of a successful request, read from its result document.

const { camelAttempt } = require('./errors.cjs');

function camelUsage(u) {
  if (!u) return null;
  return {
    promptTokens: u.prompt_tokens,
    completionTokens: u.completion_tokens,
    totalTokens: u.total_tokens,
    cachedTokens: u.cached_tokens,
    reasoningTokens: u.reasoning_tokens,
    cacheWriteTokens: u.cache_write_tokens ?? 0,
    /** The part of cacheWriteTokens written for an hour (Anthropic's 1h TTL). */
    cacheWrite1hTokens: u.cache_write_1h_tokens ?? 0,
    /** True when a stream was cut short and the provider's own count never came. */
    estimated: u.estimated === true,
  };
}

/** A tool call of a reply, as the result document has it. */
function camelToolCall(c) {
  return {
    id: c.id,
    name: c.name,
    /** The arguments' JSON text, as the model wrote it. */
    arguments: c.arguments,
    /** The arguments parsed, when they are a JSON object; else null. */
    argumentsJson: c.arguments_json ?? null,
    /** Why the arguments do not parse, or how they miss a non-strict tool's schema. */
    argumentsError: c.arguments_error ?? null,
    /** True when the model named a tool the request did not offer. */
    unknownTool: c.unknown_tool === true,
  };
}

function toolCallsOf(calls) {
  return Array.isArray(calls) ? calls.map(camelToolCall) : [];
}

class GenerateResponse {
  /** @param {object} doc a result document with ok: true (docs/schema.md) */
  constructor(doc) {
    /** The core's request id (also what AbortSignal cancels). */
    this.id = doc.id;
    /** The assistant's text ("" when none). */
    this.text = doc.text ?? '';
    this.model = doc.model;
    this.operation = doc.operation;
    /** The deployment that served it; null without configured deployments. */
    this.deployment = doc.deployment ?? null;
    this.finishReason = doc.finish_reason ?? null;
    /** The provider's id of the completion ("chatcmpl-..."). */
    this.responseId = doc.response_id ?? null;
    /** The model the provider says answered. */
    this.responseModel = doc.response_model ?? null;
    this.usage = camelUsage(doc.usage);
    /** Cost in nano-USD (1e-9 USD); null when unknown (no price for the model). */
    /** True when the provider's usage counts were not counts: usage and cost are then unknown. */
    this.usageUnreadable = doc.usage_unreadable === true;
    this.costNanoUsd = doc.cost_nano_usd ?? null;
    this.attempts = doc.attempts.map(camelAttempt);
    /**
     * The validated JSON document of a request with a json_schema (already parsed);
     * undefined without one.
     */
    this.json = doc.json;
    /** The tools the model asked for (finishReason "tool_calls"); empty when none. */
    this.toolCalls = toolCallsOf(doc.tool_calls);
    /** Every choice of a request with n > 1 (the first is also text, toolCalls, ...); else null. */
    this.choices = Array.isArray(doc.choices)
      ? doc.choices.map((c) => ({
          index: c.index,
          text: c.text ?? '',
          finishReason: c.finish_reason ?? null,
          toolCalls: toolCallsOf(c.tool_calls),
          logprobs: c.logprobs ?? null,
        }))
      : null;
    /** Token log probabilities as the provider sent them (with logprobs: true); else null. */
    this.logprobs = doc.logprobs ?? null;
    /** The service tier the provider says it used; null when it did not say. */
    this.serviceTier = doc.service_tier ?? null;
    /** The model's thinking (Anthropic extended thinking, Ollama think), apart from text. */
    this.thinking = doc.thinking ?? null;
    /** The thinking's signature, sent back with it in the next tool round. */
    this.thinkingSignature = doc.thinking_signature ?? null;
    const t = doc.timing || {};
    this.timing = {
      submitUnixMs: t.submit_unix_ms,
      totalMs: t.total_ms,
      overheadUs: t.overhead_us,
      /** Streams: submit to the first text, in ms; null when nothing was streamed. */
      firstTokenMs: t.first_token_ms ?? null,
    };
    this.traceId = doc.trace_id ?? null;
    this.metadata = doc.metadata ?? null;
    /** The whole result document, as the core wrote it. */
    this.raw = doc;
  }

  /**
   * This reply as the assistant message of the next request's `messages`: its text, its
   * tool calls and, when the provider signed its thinking, the thinking (which Anthropic
   * wants back in a tool round). Of a reply with several choices, the first.
   * @returns {object}
   */
  toMessage() {
    const message = { role: 'assistant', content: this.text === '' && this.toolCalls.length > 0 ? null : this.text };
    if (this.thinkingSignature !== null) {
      const parts = [{ type: 'thinking', thinking: this.thinking ?? '', signature: this.thinkingSignature }];
      if (this.text !== '') parts.push({ type: 'text', text: this.text });
      message.content = parts;
    }
    if (this.toolCalls.length > 0) {
      message.tool_calls = this.toolCalls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: c.arguments },
      }));
    }
    return message;
  }

  /** Cost in USD (a float, for display); null when unknown. */
  get costUsd() {
    return this.costNanoUsd === null ? null : this.costNanoUsd / 1e9;
  }
}

module.exports = { GenerateResponse, camelUsage };
