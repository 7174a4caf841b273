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
    /** True when a stream was cut short and the provider's own count never came. */
    estimated: u.estimated === true,
  };
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
    this.costNanoUsd = doc.cost_nano_usd ?? null;
    this.attempts = doc.attempts.map(camelAttempt);
    /**
     * The validated JSON document of a request with a json_schema (already parsed);
     * undefined without one.
     */
    this.json = doc.json;
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

  /** Cost in USD (a float, for display); null when unknown. */
  get costUsd() {
    return this.costNanoUsd === null ? null : this.costNanoUsd / 1e9;
  }
}

module.exports = { GenerateResponse, camelUsage };
