'use strict';
// The OpenTelemetry adapter (docs/telemetry.md): spans and metrics of each request through
// the OpenTelemetry API the application configured (@opentelemetry/api, an optional peer
// dependency, loaded only when a client turns telemetry on).
//
// A request's span starts when it is submitted, its parent the context current then (or the
// one the call names), and ends at its completion. Everything else comes from the typed
// result the client read anyway: the attempts' and gate waits' spans, made at completion
// with explicit times (the span's start plus the core's offsets), and the metrics. No result
// document is parsed. Prompts and replies are recorded only when asked for.

const { LlmsvcError } = require('./errors.cjs');
const { version: VERSION } = require('../package.json');

const SCOPE = 'llmsvc';
const CONTENT_ENV = 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT';
// The buckets the conventions advise (durations, tokens), and finer ones for gate waits and
// backoffs, which are often below 10 ms.
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const WAIT_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60];
const BACKOFF_SOURCES = { client: 'client', server: 'retry_after' };
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

let api = null;

function loadApi() {
  if (api === null) {
    try {
      api = require('@opentelemetry/api');
    } catch (err) {
      const e = new Error('llmsvc: telemetry needs the @opentelemetry/api package (npm install @opentelemetry/api)',
        { cause: err });
      e.code = 'LLMSVC_OTEL_MISSING';
      throw e;
    }
  }
  return api;
}

// The instruments of each meter provider, made once.
const instrumentCache = new WeakMap();

function instrumentsOf(meterProvider) {
  let m = instrumentCache.get(meterProvider);
  if (m !== undefined) return m;
  const meter = meterProvider.getMeter(SCOPE, VERSION);
  const histogram = (name, unit, description, buckets, valueType) =>
    meter.createHistogram(name, { unit, description, valueType, advice: { explicitBucketBoundaries: buckets } });
  m = {
    duration: histogram('gen_ai.client.operation.duration', 's', 'GenAI operation duration', DURATION_BUCKETS),
    tokens: histogram('gen_ai.client.token.usage', '{token}', 'Number of input and output tokens used',
      TOKEN_BUCKETS, api.ValueType.INT),
    firstChunk: histogram('gen_ai.client.operation.time_to_first_chunk', 's',
      'Time to receive the first chunk of a streamed response', DURATION_BUCKETS),
    attempts: meter.createCounter('llmsvc.client.attempts',
      { unit: '{attempt}', description: 'Attempts sent to the provider', valueType: api.ValueType.INT }),
    gateWait: histogram('llmsvc.client.gate.wait', 's', 'Time an attempt was held by the gates', WAIT_BUCKETS),
    backoff: histogram('llmsvc.client.backoff', 's', 'Waits between attempts', WAIT_BUCKETS),
    cost: meter.createCounter('llmsvc.client.cost',
      { unit: '{nano_usd}', description: 'Cost of the requests in nano-USD', valueType: api.ValueType.INT }),
  };
  instrumentCache.set(meterProvider, m);
  return m;
}

const isNumber = (x) => typeof x === 'number' && Number.isFinite(x);
// Wall-clock ms, as the SDK starts spans: the parent's times and this adapter's agree even
// after the monotonic clock drifted from the wall clock. The core's offsets (attempts,
// total) are added to the request span's start.
const nowMs = Date.now;

// The span context of a W3C traceparent (and tracestate), as a remote parent; null when malformed.
function remoteParent(traceparent, tracestate) {
  const m = TRACEPARENT.exec(traceparent);
  if (m === null || m[1] === 'ff') return null;
  const sc = { traceId: m[2], spanId: m[3], traceFlags: parseInt(m[4], 16) & 0xff, isRemote: true };
  if (typeof tracestate === 'string' && tracestate !== '') sc.traceState = api.createTraceState(tracestate);
  return api.trace.isSpanContextValid(sc) ? sc : null;
}

// The request document with the W3C trace context of span context `sc` added.
function withTraceparent(req, sc) {
  const traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  const state = sc.traceState?.serialize() || undefined;
  if (req.traceparent === undefined && req.tracestate === undefined) {
    // Spliced into the document's text: a copy of the request object costs more.
    const doc = JSON.stringify(req);
    if (doc.length >= 2 && doc[0] === '{' && doc[doc.length - 1] === '}') {
      const tail = state === undefined ? '' : `,"tracestate":${JSON.stringify(state)}`;
      return `${doc.slice(0, -1)}${doc.length > 2 ? ',' : ''}"traceparent":"${traceparent}"${tail}}`;
    }
  }
  return JSON.stringify(Object.assign({}, req, { traceparent, tracestate: state }));
}

// The request's parameters as the request span's attributes.
function requestAttributes(req, model, streamed) {
  const a = { 'gen_ai.operation.name': 'chat' };
  if (model) a['gen_ai.request.model'] = model;
  const maxTokens = req.max_output_tokens ?? req.max_tokens;
  if (isNumber(maxTokens)) a['gen_ai.request.max_tokens'] = maxTokens;
  if (isNumber(req.temperature)) a['gen_ai.request.temperature'] = req.temperature;
  if (isNumber(req.top_p)) a['gen_ai.request.top_p'] = req.top_p;
  if (isNumber(req.frequency_penalty)) a['gen_ai.request.frequency_penalty'] = req.frequency_penalty;
  if (isNumber(req.presence_penalty)) a['gen_ai.request.presence_penalty'] = req.presence_penalty;
  if (isNumber(req.seed)) a['gen_ai.request.seed'] = req.seed;
  const stop = req.stop ?? req.stop_sequences;
  if (typeof stop === 'string') a['gen_ai.request.stop_sequences'] = [stop];
  else if (Array.isArray(stop)) a['gen_ai.request.stop_sequences'] = stop.filter((s) => typeof s === 'string');
  if (isNumber(req.n) && req.n !== 1) a['gen_ai.request.choice.count'] = req.n;
  a['gen_ai.request.stream'] = streamed || req.stream === true;
  const format = req.response_format?.type;
  if (req.json_schema != null || format === 'json_object' || format === 'json_schema') a['gen_ai.output.type'] = 'json';
  if (typeof req.operation === 'string' && req.operation !== '') a['llmsvc.operation'] = req.operation;
  return a;
}

// ---- content, in the conventions' parts shape ------------------------------------------

function toolArguments(args) {
  if (typeof args !== 'string') return args;
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

function part(p) {
  if (typeof p === 'string') return { type: 'text', content: p };
  switch (p?.type) {
    case 'text': return { type: 'text', content: p.text };
    case 'thinking': return { type: 'reasoning', content: p.thinking };
    case 'image_url':
      return { type: 'uri', modality: 'image', uri: typeof p.image_url === 'string' ? p.image_url : p.image_url?.url };
    case 'image': return { type: 'blob', modality: 'image', mime_type: p.media_type, content: p.data };
    case 'audio': return { type: 'blob', modality: 'audio', mime_type: `audio/${p.format}`, content: p.data };
    default: return { type: String(p?.type) };
  }
}

const parts = (content) => (content == null ? [] : Array.isArray(content) ? content.map(part) : [part(content)]);
const textOf = (content) => (Array.isArray(content) ? content.map((p) => p?.text ?? '').join('') : content);

function inputMessage(m) {
  if (m?.role === 'tool') {
    return { role: 'tool', parts: [{ type: 'tool_call_response', id: m.tool_call_id, response: textOf(m.content) }] };
  }
  const out = { role: m?.role === 'developer' ? 'system' : m?.role, parts: parts(m?.content) };
  if (Array.isArray(m?.tool_calls)) {
    for (const c of m.tool_calls) {
      out.parts.push({ type: 'tool_call', id: c.id, name: c.function?.name ?? c.name,
        arguments: toolArguments(c.function?.arguments ?? c.arguments) });
    }
  }
  return out;
}

function inputMessages(req) {
  const out = [];
  for (const s of [req.instructions, req.system]) {
    if (typeof s === 'string') out.push({ role: 'system', parts: [{ type: 'text', content: s }] });
  }
  if (Array.isArray(req.messages)) for (const m of req.messages) out.push(inputMessage(m));
  if (typeof req.prompt === 'string') out.push({ role: 'user', parts: [{ type: 'text', content: req.prompt }] });
  return JSON.stringify(out);
}

function outputMessage(text, thinking, toolCalls, finishReason) {
  const p = [];
  if (thinking) p.push({ type: 'reasoning', content: thinking });
  if (text) p.push({ type: 'text', content: text });
  for (const c of toolCalls) p.push({ type: 'tool_call', id: c.id, name: c.name, arguments: toolArguments(c.arguments) });
  return { role: 'assistant', parts: p, finish_reason: finishReason ?? '' };
}

function outputMessages(r) {
  const out = r.choices === null
    ? [outputMessage(r.text, r.thinking, r.toolCalls, r.finishReason)]
    : r.choices.map((c, i) => outputMessage(c.text, i === 0 ? r.thinking : null, c.toolCalls, c.finishReason));
  return JSON.stringify(out);
}

// ---- the adapter -----------------------------------------------------------------------

/** One client's telemetry. `options`: TelemetryOptions (index.d.cts); `config`: the client's. */
class Telemetry {
  constructor(options, config) {
    const otel = loadApi();
    if (options === null || typeof options !== 'object') throw new TypeError('options.telemetry must be a boolean or an object');
    this.tracer = (options.tracerProvider ?? otel.trace.getTracerProvider()).getTracer(SCOPE, VERSION);
    this.instruments = instrumentsOf(options.meterProvider ?? otel.metrics.getMeterProvider());
    this.capture = typeof options.captureMessageContent === 'boolean'
      ? options.captureMessageContent
      : String(process.env[CONTENT_ENV] ?? '').trim().toLowerCase() === 'true';
    this.defaultModel = defaultModel(config);
  }

  /**
   * Before a request is submitted: starts its span and returns the span's state, with the
   * document to submit (with the span's traceparent unless the request has its own); null
   * for what is no request (the client then throws as without telemetry).
   */
  start(request, streamed, parent) {
    const req = typeof request === 'string' ? { prompt: request } : request;
    if (req === null || typeof req !== 'object' || Array.isArray(req)) return null;
    const { trace, context, SpanKind } = api;
    const model = typeof req.model === 'string' && req.model !== '' ? req.model : this.defaultModel;
    let ctx = parent ?? context.active();
    const own = typeof req.traceparent === 'string' ? req.traceparent : null;
    if (own !== null && trace.getSpanContext(ctx) === undefined) {
      const sc = remoteParent(own, req.tracestate);
      if (sc !== null) ctx = trace.setSpanContext(ctx, sc);
    }
    const t0 = nowMs();
    const span = this.tracer.startSpan(model ? `chat ${model}` : 'chat',
      { kind: SpanKind.CLIENT, startTime: t0, attributes: requestAttributes(req, model, streamed) }, ctx);
    const sc = span.spanContext();
    return {
      span,
      t0,
      model,
      operation: typeof req.operation === 'string' && req.operation !== '' ? req.operation : null,
      input: this.capture && span.isRecording() ? inputMessages(req) : null,
      doc: own === null && trace.isSpanContextValid(sc) ? withTraceparent(req, sc) : JSON.stringify(req),
    };
  }

  /** The core refused the request at submit (StatusError): its span ends in error. */
  refused(st, err) {
    st.span.setAttribute('error.type', err?.code ?? err?.name ?? 'Error');
    st.span.setStatus({ code: api.SpanStatusCode.ERROR, message: String(err?.message ?? err) });
    st.span.end();
  }

  /** Results lost for want of memory: the span ends in error. */
  lost(st) {
    st.span.setAttribute('error.type', 'internal');
    st.span.setStatus({ code: api.SpanStatusCode.ERROR, message: 'the result was lost (out of memory)' });
    st.span.end();
  }

  /** The request completed: `r` is its GenerateResponse or LlmsvcError. */
  end(st, r) {
    const { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT } = api;
    const failed = r instanceof LlmsvcError;
    const span = st.span;
    const model = r.model || st.model;
    const provider = r.provider;
    const address = r.serverAddress;
    const port = r.serverPort > 0 ? r.serverPort : null;
    const usage = r.usage;
    const timing = r.timing;
    const attempts = r.attempts;
    const endTime = st.t0 + (isNumber(timing?.totalMs) ? timing.totalMs : nowMs() - st.t0);
    const firstChunk = !failed && timing.firstTokenMs !== null ? timing.firstTokenMs / 1e3 : null;

    if (span.isRecording()) {
      if (!st.model && model) span.updateName(`chat ${model}`);
      const a = {};
      if (!st.model && model) a['gen_ai.request.model'] = model;
      if (provider) a['gen_ai.provider.name'] = provider;
      if (address) a['server.address'] = address;
      if (port !== null) a['server.port'] = port;
      if (!failed) {
        if (r.responseModel) a['gen_ai.response.model'] = r.responseModel;
        if (r.responseId) a['gen_ai.response.id'] = r.responseId;
        const reasons = r.choices !== null ? r.choices.map((c) => c.finishReason ?? '')
          : r.finishReason ? [r.finishReason] : null;
        if (reasons !== null) a['gen_ai.response.finish_reasons'] = reasons;
        if (firstChunk !== null) a['gen_ai.response.time_to_first_chunk'] = firstChunk;
        if (r.cacheHit) a['llmsvc.cache.hit'] = r.cacheHit;
      } else {
        a['error.type'] = r.kind;
      }
      if (usage !== null) {
        a['gen_ai.usage.input_tokens'] = usage.promptTokens;
        a['gen_ai.usage.output_tokens'] = usage.completionTokens;
        a['gen_ai.usage.cache_read.input_tokens'] = usage.cachedTokens;
        a['gen_ai.usage.cache_creation.input_tokens'] = usage.cacheWriteTokens;
        a['gen_ai.usage.reasoning.output_tokens'] = usage.reasoningTokens;
      }
      if (r.deployment) a['llmsvc.deployment'] = r.deployment;
      a['llmsvc.attempts'] = attempts.length;
      if (timing?.gateWaitMs != null) a['llmsvc.gate.wait'] = timing.gateWaitMs / 1e3;
      if (r.costNanoUsd !== null && r.costNanoUsd !== undefined) a['llmsvc.cost.nano_usd'] = r.costNanoUsd;
      if (st.input !== null) a['gen_ai.input.messages'] = st.input;
      if (this.capture && !failed) a['gen_ai.output.messages'] = outputMessages(r);
      span.setAttributes(a);
      if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: r.message });

      const parent = trace.setSpan(ROOT_CONTEXT, span);
      for (let i = 0; i < attempts.length; i++) {
        const at = attempts[i];
        const start = st.t0 + at.startMs;
        const wait = at.gateWaitMs;
        if (wait !== null && wait >= 1) {
          this.tracer.startSpan('llmsvc.gate.wait',
            { kind: SpanKind.INTERNAL, startTime: start - wait, attributes: { 'llmsvc.attempt': i } }, parent)
            .end(start);
        }
        const aa = { 'http.request.method': 'POST' };
        if (at.httpStatus > 0) aa['http.response.status_code'] = at.httpStatus;
        if (i > 0) aa['http.request.resend_count'] = i;
        if (address) aa['server.address'] = address;
        if (port !== null) aa['server.port'] = port;
        if (at.kind !== 'none') aa['error.type'] = at.kind;
        if (at.deployment) aa['llmsvc.deployment'] = at.deployment;
        if (wait !== null) aa['llmsvc.gate.wait'] = wait / 1e3;
        if (at.backoffSource !== null) {
          aa['llmsvc.backoff'] = at.backoffMs / 1e3;
          aa['llmsvc.backoff.source'] = BACKOFF_SOURCES[at.backoffSource] ?? at.backoffSource;
        }
        if (at.requestId) aa['llmsvc.provider.request_id'] = at.requestId;
        if (at.promptTokens !== null) aa['gen_ai.usage.input_tokens'] = at.promptTokens;
        if (at.completionTokens !== null) aa['gen_ai.usage.output_tokens'] = at.completionTokens;
        if (at.costNanoUsd !== null) aa['llmsvc.cost.nano_usd'] = at.costNanoUsd;
        const s = this.tracer.startSpan('POST', { kind: SpanKind.CLIENT, startTime: start, attributes: aa }, parent);
        if (at.kind !== 'none') s.setStatus({ code: SpanStatusCode.ERROR, message: at.kind });
        s.end(start + at.durationMs);
      }
    }
    span.end(endTime);

    // Metrics, whether the span was sampled or not.
    const m = this.instruments;
    const sets = this.#attributeSets(provider, model, failed ? null : r.responseModel, address, port);
    const full = failed ? sets.failed(r.kind) : sets.full;
    if (usage !== null) {
      m.tokens.record(usage.promptTokens, sets.input);
      m.tokens.record(usage.completionTokens, sets.output);
    }
    m.duration.record((endTime - st.t0) / 1e3, full);
    if (firstChunk !== null) m.firstChunk.record(firstChunk, full);
    for (let i = 0; i < attempts.length; i++) {
      const at = attempts[i];
      m.attempts.add(1, sets.attempt(at.httpStatus, at.kind));
      if (at.gateWaitMs !== null) m.gateWait.record(at.gateWaitMs / 1e3, sets.base);
      if (at.backoffSource !== null) m.backoff.record(at.backoffMs / 1e3, sets.backoff(at.backoffSource));
    }
    if (r.costNanoUsd !== null && r.costNanoUsd !== undefined) m.cost.add(r.costNanoUsd, sets.cost(st.operation));
  }

  // The metrics' attribute sets of requests with these values, made once: what varies per
  // request (an attempt's status, an error kind) is a key of a map of the set.
  #sets = new Map();

  #attributeSets(provider, model, responseModel, address, port) {
    const key = `${provider}\n${model}\n${responseModel}\n${address}\n${port}`;
    let sets = this.#sets.get(key);
    if (sets === undefined) {
      if (this.#sets.size >= 1000) this.#sets.clear();
      sets = new AttributeSets(provider, model, responseModel, address, port);
      this.#sets.set(key, sets);
    }
    return sets;
  }
}

class AttributeSets {
  constructor(provider, model, responseModel, address, port) {
    const base = { 'gen_ai.operation.name': 'chat' };
    if (provider) base['gen_ai.provider.name'] = provider;
    if (model) base['gen_ai.request.model'] = model;
    const full = Object.assign({}, base);
    if (responseModel) full['gen_ai.response.model'] = responseModel;
    if (address) full['server.address'] = address;
    if (port !== null) full['server.port'] = port;
    this.base = base;
    this.full = full;
    this.input = Object.assign({}, full, { 'gen_ai.token.type': 'input' });
    this.output = Object.assign({}, full, { 'gen_ai.token.type': 'output' });
    this.memo = new Map();
  }

  #get(key, make) {
    let a = this.memo.get(key);
    if (a === undefined) {
      if (this.memo.size >= 1000) this.memo.clear();
      this.memo.set(key, (a = make()));
    }
    return a;
  }

  /** The duration's attributes of a failure of kind `kind`. */
  failed(kind) {
    return this.#get(`e${kind}`, () => Object.assign({}, this.full, { 'error.type': kind }));
  }

  attempt(status, kind) {
    return this.#get(`a${status}${kind}`, () => {
      const a = Object.assign({}, this.base);
      if (status > 0) a['http.response.status_code'] = status;
      if (kind !== 'none') a['error.type'] = kind;
      return a;
    });
  }

  backoff(source) {
    return this.#get(`b${source}`,
      () => Object.assign({}, this.base, { 'llmsvc.backoff.source': BACKOFF_SOURCES[source] ?? source }));
  }

  cost(operation) {
    if (operation === null) return this.base;
    return this.#get(`o${operation}`, () => Object.assign({}, this.base, { 'llmsvc.operation': operation }));
  }
}

// The client's default model (requests without one use it), for span names at submit.
function defaultModel(config) {
  try {
    const c = typeof config === 'string' ? JSON.parse(config) : config;
    return typeof c?.model === 'string' && c.model !== '' ? c.model : null;
  } catch {
    return null;
  }
}

module.exports = { Telemetry };
