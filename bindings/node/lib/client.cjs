'use strict';
// Client: a thin wrapper over one libllmsvc client (index.d.cts documents the API). Gates,
// retry, metrics and cost are the core's. Requests go in as JSON documents; their pieces,
// completions and events come back in batches, one per pass of the core's engine, to the
// client's sink (#deliver).

const native = require('./native.cjs');
const errors = require('./errors.cjs');
const { Batch, GenerateResponse, readCompletion } = require('./response.cjs');
const { ResponseStream, kCreate } = require('./stream.cjs');

const version = native.init(errors.StatusError);

/** The lifecycle events of a request, as bits for Client.onEvents (LLMSVC_EVENT_*). */
const EventType = Object.freeze({ QUEUED: 1, ADMITTED: 2, ATTEMPT_STARTED: 4, ATTEMPT_FINISHED: 8,
  RETRY_SCHEDULED: 16, COMPLETED: 32, ALL: 63 });
const EVENT_NAMES = ['queued', 'admitted', 'attempt_started', 'attempt_finished', 'retry_scheduled', 'completed'];
const EVENTS_WITH_CONTENT = 1;
// native.submit's modes, and the records of a batch (src/addon.c).
const ONE_RESULT = 0, TEXT_PIECES = 1, TYPED_PIECES = 2;
const REC_PIECE = 1, REC_EVENT = 2, PIECE_TOOL_CALL = 1;

// The LLMSVC_EVENT_* bits of onEvents' `types`: bits, event names, or 'all'.
function eventMask(types) {
  if (types === 'all') return EventType.ALL;
  if (Number.isInteger(types) && types >= 0 && types <= 0xffffffff) return types; // the core refuses unknown bits
  if (!Array.isArray(types)) throw new TypeError('types must be EventType bits, an array of event names or "all"');
  return types.reduce((mask, name) => {
    if (!EVENT_NAMES.includes(name)) throw new TypeError(`unknown event type ${JSON.stringify(name)}`);
    return mask | (1 << EVENT_NAMES.indexOf(name));
  }, 0);
}

// A warning instead of an uncaught exception, for what a listener (or its onError) threw.
function warn(message, err, code) {
  const text = err instanceof Error && err.stack ? err.stack : String(err);
  process.emitWarning(`${message}: ${text}`, { type: 'LlmsvcWarning', code });
}

function documentOf(value, what) {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object or a JSON string`);
  }
  return JSON.stringify(value);
}

function requestDocument(request) {
  return typeof request === 'string' ? JSON.stringify({ prompt: request }) : documentOf(request, 'request');
}

function abortedBeforeSubmit(signal) {
  const error = { kind: 'cancelled', message: 'the request was aborted before it was submitted', http_status: 0 };
  const doc = { id: 0, ok: false, error, usage: null, cost_nano_usd: null, attempts: [] };
  return new errors.CancelledError(doc, signal.reason);
}

// The adapter reports this client's requests; the core's own OTLP exporter (which the
// standard OTEL_* variables can turn on) would report them a second time, so it is turned
// off unless the configuration names it.
function withoutCoreExporter(doc) {
  let parsed;
  try {
    parsed = JSON.parse(doc);
  } catch {
    return doc; // the library says what is wrong with it
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return doc;
  const t = parsed.telemetry;
  if (t !== undefined && (t === null || typeof t !== 'object' || Array.isArray(t))) return doc;
  if (t?.otlp !== undefined) return doc;
  parsed.telemetry = { ...t, otlp: { enabled: false } };
  return JSON.stringify(parsed);
}

class Client {
  #handle;
  #closing = null;
  // Pending requests by slot, the number each was submitted with and its records carry:
  // { id, signal, resolve, reject, piece, lost? }. An array and a free list rather than a
  // Map by id: with a Map, after any full collection every request's promise and response
  // survived the next scavenge (PERFORMANCE.md, "Memory").
  #requests = [];
  #free = []; // slots of #requests free for reuse
  #pending = 0;
  #sink; // the addon holds it weakly while nothing is pending: this keeps it alive
  #onEvent = null;
  #eventGen = 0; // events of a replaced listener, still on their way, are dropped
  #watches = new Map(); // one abort listener per signal, however many requests share it
  #telemetry = null; // lib/telemetry.cjs, when options.telemetry turned it on

  constructor(config, options) {
    let doc = config === undefined || config === null ? '{}' : documentOf(config, 'config');
    const telemetry = options?.telemetry ?? false;
    if (telemetry !== false) {
      // Loaded only here: without telemetry, @opentelemetry/api is never required.
      const { Telemetry } = require('./telemetry.cjs');
      this.#telemetry = new Telemetry(telemetry === true ? {} : telemetry, config);
      doc = withoutCoreExporter(doc);
    }
    this.#sink = (nums, strs, n) => {
      try {
        this.#deliver(nums, strs, n);
      } catch (err) { // a bug of this binding: listeners' errors are caught where they run
        warn('llmsvc could not deliver results', err, 'LLMSVC_DELIVERY');
      }
    };
    this.#handle = native.open(doc, this.#sink);
  }

  static fromFile(path, options) {
    return new Client(native.loadConfig(path)[0], options);
  }

  generate(request, options) {
    // What #submit throws rejects the promise.
    return new Promise((resolve, reject) => this.#submit(request, options, ONE_RESULT, { resolve, reject, piece: null }));
  }

  async generateJSON(request, options) {
    if (request === null || typeof request !== 'object' || Array.isArray(request) || request.json_schema == null) {
      throw new TypeError('generateJSON needs a request object with json_schema');
    }
    return (await this.generate(request, options)).json;
  }

  stream(request, options) {
    return this.#stream(request, options, TEXT_PIECES);
  }

  streamPieces(request, options) {
    return this.#stream(request, options, TYPED_PIECES);
  }

  #stream(request, options, mode) {
    const ctl = {}; // the stream's side: signal, started, piece, resolve, reject
    const stream = new ResponseStream(kCreate, options?.signal ?? null, mode === TYPED_PIECES, ctl);
    try {
      const handle = this.#handle;
      const id = this.#submit(request, options, mode, ctl);
      ctl.started(id, () => native.cancel(handle, id));
    } catch (err) {
      ctl.reject(err);
    }
    return stream;
  }

  // Submits a request; its pieces and completion go to `pending` ({ resolve, reject, piece }).
  #submit(request, options, mode, pending) {
    const signal = (pending.signal = options?.signal ?? null);
    if (signal?.aborted) throw abortedBeforeSubmit(signal);
    const slot = this.#free.length > 0 ? this.#free[this.#free.length - 1] : this.#requests.length;
    const id = this.#telemetry === null
      ? native.submit(this.#handle, requestDocument(request), mode, slot) // may throw
      : this.#submitTraced(request, options, mode, slot, pending);
    if (slot < this.#requests.length) this.#free.pop();
    pending.id = id;
    this.#requests[slot] = pending;
    this.#pending++;
    if (signal !== null) this.#watch(signal).add(id);
    return id;
  }

  // #submit's native call with telemetry on: the request's span starts first (its
  // traceparent goes into the document) and is kept in `pending.otel` until the completion.
  #submitTraced(request, options, mode, slot, pending) {
    let st = null;
    try {
      st = this.#telemetry.start(request, mode !== ONE_RESULT, options?.context);
    } catch (err) {
      warn('llmsvc telemetry could not start a span', err, 'LLMSVC_TELEMETRY');
    }
    if (st === null) return native.submit(this.#handle, requestDocument(request), mode, slot);
    try {
      const id = native.submit(this.#handle, st.doc, mode, slot);
      st.doc = null;
      pending.otel = st;
      return id;
    } catch (err) {
      this.#telemetry.refused(st, err);
      throw err;
    }
  }

  #endSpan(request, outcome) {
    const st = request.otel;
    request.otel = undefined;
    try {
      if (outcome === null) this.#telemetry.lost(st);
      else this.#telemetry.end(st, outcome);
    } catch (err) {
      warn('llmsvc telemetry could not record a request', err, 'LLMSVC_TELEMETRY');
    }
  }

  // One batch (src/addon.c, "Layout"); (null, null, 0) when the addon had no memory to
  // write one and results were lost.
  #deliver(nums, strs, n) {
    if (nums === null) {
      const lost = new Error('llmsvc: out of memory: results of this client were lost');
      for (const request of this.#requests) {
        if (request === undefined || request.lost) continue;
        request.lost = true; // rejected now; its slot is freed when its completion comes
        request.piece = null;
        if (this.#telemetry !== null && request.otel !== undefined) this.#endSpan(request, null);
        this.#pending--;
        if (request.signal !== null) this.#unwatch(request.signal, request.id);
        request.reject(lost);
      }
      return;
    }
    const b = new Batch(nums, strs);
    for (let k = 0; k < n; k++) {
      const type = b.num();
      if (type === REC_EVENT) {
        const gen = b.num();
        const json = b.str();
        if (gen === this.#eventGen && this.#onEvent !== null) this.#onEvent(json);
        continue;
      }
      const slot = b.num();
      const request = this.#requests[slot];
      if (type === REC_PIECE) {
        const kind = b.num();
        const index = b.num();
        const text = b.str();
        const callId = kind === PIECE_TOOL_CALL ? b.str() : null;
        const name = kind === PIECE_TOOL_CALL ? b.str() : null;
        if (request?.piece) request.piece(kind, index, text, callId, name);
        continue;
      }
      const outcome = readCompletion(b, b.num(), request?.signal);
      if (request === undefined) continue;
      this.#requests[slot] = undefined;
      this.#free.push(slot);
      if (this.#telemetry !== null && request.otel !== undefined) this.#endSpan(request, outcome);
      if (request.lost) continue;
      this.#pending--;
      if (request.signal !== null) this.#unwatch(request.signal, request.id);
      if (outcome instanceof errors.LlmsvcError) request.reject(outcome);
      else request.resolve(outcome);
    }
  }

  #watch(signal) {
    let watch = this.#watches.get(signal);
    if (watch === undefined) {
      const handle = this.#handle;
      const ids = new Set();
      // Cancels in the core in any state without waiting: the completion (cancelled) follows.
      const onAbort = () => ids.forEach((id) => native.cancel(handle, id));
      watch = { ids, onAbort };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#watches.set(signal, watch);
    }
    return watch.ids;
  }

  #unwatch(signal, id) {
    const watch = this.#watches.get(signal);
    if (watch === undefined) return;
    watch.ids.delete(id);
    if (watch.ids.size > 0) return;
    signal.removeEventListener('abort', watch.onAbort);
    this.#watches.delete(signal);
  }

  metrics() {
    return JSON.parse(native.metrics(this.#handle));
  }

  metricsPrometheus() {
    return native.metricsPrometheus(this.#handle);
  }

  setLimits(limits) {
    native.setLimits(this.#handle, documentOf(limits, 'limits'));
  }

  setDeployment(deployment) {
    native.setDeployment(this.#handle, documentOf(deployment, 'deployment'));
  }

  // Events come in the batches with completions, in order: a request's before its promise
  // settles. Each listener has its generation; events of an earlier one are dropped.
  onEvents(types, listener, options) {
    const mask = eventMask(types);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const onError = options?.onError ?? undefined;
    if (onError !== undefined && typeof onError !== 'function') throw new TypeError('options.onError must be a function');
    if (mask === 0) return this.offEvents();
    native.setEventHook(this.#handle, mask, options?.withContent === true ? EVENTS_WITH_CONTENT : 0, this.#eventGen + 1);
    this.#eventGen++;
    this.#onEvent = (json) => {
      let event;
      try {
        event = JSON.parse(json);
        listener(event);
      } catch (err) {
        try {
          if (onError === undefined) throw err;
          onError(err, event);
        } catch (e) {
          warn('an llmsvc event listener threw', e, 'LLMSVC_EVENT_LISTENER');
        }
      }
    };
  }

  offEvents() {
    native.setEventHook(this.#handle, 0, 0, ++this.#eventGen);
    this.#onEvent = null;
  }

  get pending() {
    return this.#pending;
  }

  get closed() {
    return this.#closing !== null;
  }

  /** Refuses new requests at once; resolves once every pending one has settled (ShutDownError). */
  close() {
    this.#closing ??= native.close(this.#handle);
    return this.#closing;
  }

  [Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')]() {
    return this.close();
  }
}

function coreVersion() {
  return version;
}

/** Counters of the native layer in this thread's environment (leak checks). */
function nativeStats() {
  const [pendingEntries, liveClients, nativeClients] = native.stats();
  return { pendingEntries, liveClients, nativeClients };
}

function loadConfigFile(path) {
  const [config, warnings] = native.loadConfig(path);
  return { config, warnings: JSON.parse(warnings) };
}

module.exports = { Client, EventType, GenerateResponse, ResponseStream, coreVersion, nativeStats, loadConfigFile };
