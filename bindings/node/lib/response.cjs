'use strict';
// Completions as the addon hands them over: per pass of the core's engine, a Float64Array of
// numbers and an array of strings read with the core's typed getters (src/addon.c, "Layout"),
// read back here in the same order into a GenerateResponse or an LlmsvcError. No result
// document is parsed unless a member only it has is asked for (raw, json, metadata,
// logprobs, thinkingSignature, a tool call's argumentsJson, argumentsError and unknownTool,
// an error's result and providerParam) or is present (the choices' logprobs with n > 1,
// 1-hour cache writes, a schema mismatch's pointer, keyword and output).

const errors = require('./errors.cjs');

// Keys of llmsvc_result_numbers (llmsvc_result_num_t), llmsvc_result_attempt and
// llmsvc_result_string (llmsvc_result_str_t).
const N = { KIND: 0, HTTP: 1, PROMPT: 2, COMPLETION: 3, CACHED: 4, CACHE_WRITE: 5, REASONING: 6, USAGE: 7,
  COST: 8, ATTEMPTS: 9, RETRY_AFTER_MS: 10, SUBMIT_MS: 11, TOTAL_NS: 12, FIRST_TOKEN_NS: 13, OVERHEAD_NS: 14,
  CHOICES: 15, CACHE_HIT: 17, SERVER_PORT: 19, GATE_WAIT_NS: 20, EMBEDDINGS: 21, COUNT: 22 };
const A = { HTTP: 0, KIND: 1, START_NS: 2, DURATION_NS: 3, BACKOFF_NS: 4, BACKOFF_SOURCE: 5, PROMPT: 6,
  COMPLETION: 7, COST: 8, START_UNIX_MS: 9, GATE_WAIT_NS: 10, COUNT: 11 };
const S = { MODEL: 0, RESPONSE_MODEL: 1, RESPONSE_ID: 2, FINISH_REASON: 3, OPERATION: 4, DEPLOYMENT: 5,
  SERVICE_TIER: 6, ERROR_KIND: 7, ERROR_MESSAGE: 8, PROVIDER_TYPE: 9, PROVIDER_CODE: 10, PROVIDER_MESSAGE: 11,
  THINKING: 12, TRACE_ID: 13, TEXT: 14, PROVIDER: 15, SERVER_ADDRESS: 16, COUNT: 17 };
const KINDS = ['none', ...Object.keys(errors.errorClasses)]; // by llmsvc_error_kind
const BACKOFF_SOURCES = [null, 'client', 'server'];
const CACHE_HITS = [null, 'memory', 'sqlite']; // by LLMSVC_NUM_CACHE_HIT
const strings = new Array(S.COUNT); // a completion's strings by key, reused

const orNull = (x) => (x === x ? x : null); // NaN is LLMSVC_UNKNOWN

// The usage of a result (null when none), its numbers at `at` of `n`.
function usageOf(n, at, doc) {
  const prompt = n[at + N.PROMPT];
  if (prompt !== prompt) return null;
  const completion = n[at + N.COMPLETION];
  const cacheWrite = n[at + N.CACHE_WRITE];
  return {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    cachedTokens: n[at + N.CACHED],
    reasoningTokens: n[at + N.REASONING],
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: cacheWrite > 0 ? doc().usage?.cache_write_1h_tokens ?? 0 : 0,
    estimated: n[at + N.USAGE] === 2,
  };
}

function timingOf(n, at) {
  const firstToken = n[at + N.FIRST_TOKEN_NS];
  const gateWait = n[at + N.GATE_WAIT_NS];
  return {
    submitUnixMs: n[at + N.SUBMIT_MS],
    totalMs: n[at + N.TOTAL_NS] / 1e6,
    overheadUs: n[at + N.OVERHEAD_NS] / 1e3,
    firstTokenMs: firstToken === firstToken ? firstToken / 1e6 : null,
    gateWaitMs: gateWait === gateWait ? gateWait / 1e6 : null,
  };
}

/** A cursor over one batch. */
class Batch {
  constructor(nums, strs) {
    this.nums = nums;
    this.strs = strs;
    this.i = 0;
    this.j = 0;
  }
  num() {
    return this.nums[this.i++];
  }
  str() {
    return this.strs[this.j++];
  }
}

const kCreate = Symbol('llmsvc.GenerateResponse');

class GenerateResponse {
  #doc;

  /** Not public: the client makes responses (readCompletion). */
  constructor(token, doc, id, n, at, s, attempts, toolCalls, choices, embeddings) {
    if (token !== kCreate) throw new TypeError('a GenerateResponse is made by the client');
    this.#doc = doc;
    this.id = id;
    this.text = s[S.TEXT] ?? '';
    this.model = s[S.MODEL] ?? '';
    this.operation = s[S.OPERATION] ?? '';
    this.deployment = s[S.DEPLOYMENT];
    this.finishReason = s[S.FINISH_REASON];
    this.responseId = s[S.RESPONSE_ID];
    this.responseModel = s[S.RESPONSE_MODEL];
    this.provider = s[S.PROVIDER];
    this.serverAddress = s[S.SERVER_ADDRESS];
    this.serverPort = orNull(n[at + N.SERVER_PORT]);
    this.usage = usageOf(n, at, doc);
    this.usageUnreadable = n[at + N.USAGE] === 3;
    this.costNanoUsd = orNull(n[at + N.COST]);
    this.cacheHit = CACHE_HITS[n[at + N.CACHE_HIT]] ?? null;
    this.attempts = attempts;
    this.toolCalls = toolCalls;
    this.choices = choices;
    this.serviceTier = s[S.SERVICE_TIER];
    this.thinking = s[S.THINKING];
    this.timing = timingOf(n, at);
    this.traceId = s[S.TRACE_ID];
    this.embeddings = embeddings;
  }

  /** The whole result document, as the core wrote it, parsed when first asked for. */
  get raw() {
    return this.#doc();
  }

  get json() {
    return this.raw.json;
  }

  get logprobs() {
    return this.raw.logprobs ?? null;
  }

  get thinkingSignature() {
    return this.raw.thinking_signature ?? null;
  }

  get metadata() {
    return this.raw.metadata ?? null;
  }

  get costUsd() {
    return this.costNanoUsd === null ? null : this.costNanoUsd / 1e9;
  }

  /** This reply as the assistant message of the next request (its first choice). */
  toMessage() {
    const message = { role: 'assistant', content: this.text === '' && this.toolCalls.length > 0 ? null : this.text };
    const signature = this.thinkingSignature; // Anthropic wants signed thinking back
    if (signature !== null) {
      message.content = [{ type: 'thinking', thinking: this.thinking ?? '', signature }];
      if (this.text !== '') message.content.push({ type: 'text', text: this.text });
    }
    if (this.toolCalls.length > 0) {
      message.tool_calls = this.toolCalls.map((c) =>
        ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
    }
    return message;
  }
}

// Tool call `t` of choice `c`; what the core says about its arguments is in the document.
function toolCall(b, doc, c, t) {
  const entry = () => (c === 0 ? doc().tool_calls : doc().choices[c].tool_calls)[t];
  return {
    id: b.str(),
    name: b.str(),
    arguments: b.str(),
    get argumentsJson() { return entry().arguments_json ?? null; },
    get argumentsError() { return entry().arguments_error ?? null; },
    get unknownTool() { return entry().unknown_tool === true; },
  };
}

/** A completion (after its type, slot and id): its GenerateResponse, or the error to reject with. */
function readCompletion(b, id, signal) {
  const n = b.nums;
  const at = b.i;
  b.i += N.COUNT;
  const mask = b.num();
  const json = b.str();
  let parsed;
  const doc = () => (parsed ??= JSON.parse(json));
  const s = strings;
  for (let k = 0; k < S.COUNT; k++) s[k] = mask & (1 << k) ? b.str() : null;
  const attempts = [];
  for (let a = n[at + N.ATTEMPTS]; a > 0; a--) {
    const x = b.i;
    b.i += A.COUNT;
    const has = b.num();
    const source = n[x + A.BACKOFF_SOURCE];
    const gateWait = n[x + A.GATE_WAIT_NS];
    attempts.push({
      startUnixMs: n[x + A.START_UNIX_MS],
      startMs: n[x + A.START_NS] / 1e6,
      durationMs: n[x + A.DURATION_NS] / 1e6,
      httpStatus: n[x + A.HTTP],
      kind: KINDS[n[x + A.KIND]] ?? 'unknown',
      backoffMs: source ? n[x + A.BACKOFF_NS] / 1e6 : null,
      backoffSource: BACKOFF_SOURCES[source] ?? null,
      gateWaitMs: gateWait === gateWait ? gateWait / 1e6 : null,
      promptTokens: orNull(n[x + A.PROMPT]),
      completionTokens: orNull(n[x + A.COMPLETION]),
      costNanoUsd: orNull(n[x + A.COST]),
      requestId: has & 1 ? b.str() : null,
      deployment: has & 2 ? b.str() : null,
    });
  }
  const kind = n[at + N.KIND];
  if (kind !== 0) { // errors are mapped from the kind number
    const Ctor = errors.errorClasses[KINDS[kind]] ?? errors.LlmsvcError;
    const cause = Ctor === errors.CancelledError && signal?.aborted ? signal.reason : undefined;
    return new Ctor(undefined, cause, {
      message: s[S.ERROR_MESSAGE] ?? s[S.ERROR_KIND] ?? 'request failed',
      kind: s[S.ERROR_KIND] ?? 'unknown',
      httpStatus: n[at + N.HTTP],
      providerMessage: s[S.PROVIDER_MESSAGE],
      providerType: s[S.PROVIDER_TYPE],
      providerCode: s[S.PROVIDER_CODE],
      retryAfterMs: orNull(n[at + N.RETRY_AFTER_MS]),
      attempts,
      id,
      model: s[S.MODEL] ?? '',
      deployment: s[S.DEPLOYMENT],
      traceId: s[S.TRACE_ID],
      provider: s[S.PROVIDER],
      serverAddress: s[S.SERVER_ADDRESS],
      serverPort: orNull(n[at + N.SERVER_PORT]),
      usage: usageOf(n, at, doc),
      costNanoUsd: orNull(n[at + N.COST]),
      timing: timingOf(n, at),
    }, doc);
  }
  const choices = n[at + N.CHOICES];
  let toolCalls = [];
  let all = null; // every choice, with n > 1
  for (let c = 0; c < choices; c++) {
    const calls = new Array(b.num());
    const text = choices > 1 ? b.str() : '';
    const finishReason = choices > 1 ? b.str() || null : null;
    for (let t = 0; t < calls.length; t++) calls[t] = toolCall(b, doc, c, t);
    if (c === 0) toolCalls = calls;
    if (choices > 1) {
      (all ??= []).push({ index: c, text, finishReason, toolCalls: calls, logprobs: doc().choices[c].logprobs ?? null });
    }
  }
  const vectors = n[at + N.EMBEDDINGS]; // NaN unless an embeddings result's Float32Arrays follow
  let embeddings = null;
  if (vectors > 0) {
    embeddings = new Array(vectors);
    for (let e = 0; e < vectors; e++) embeddings[e] = b.str();
  }
  return new GenerateResponse(kCreate, doc, id, n, at, s, attempts, toolCalls, all, embeddings);
}

module.exports = { Batch, GenerateResponse, readCompletion };
