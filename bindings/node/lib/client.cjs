'use strict';
// Client: a thin wrapper over one libllmsvc client. Gates, retry, metrics and cost are
// the core's; this file turns documents into JavaScript values and back.

const native = require('./native.cjs');
const errors = require('./errors.cjs');
const { GenerateResponse } = require('./response.cjs');
const { ResponseStream, kCreate } = require('./stream.cjs');

native.init(errors.StatusError);

const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

/** The lifecycle events of a request, as bits for Client.onEvents (LLMSVC_EVENT_*). */
const EventType = Object.freeze({
  QUEUED: 1,
  ADMITTED: 2,
  ATTEMPT_STARTED: 4,
  ATTEMPT_FINISHED: 8,
  RETRY_SCHEDULED: 16,
  COMPLETED: 32,
  ALL: 63,
});

const eventBits = new Map([
  ['queued', EventType.QUEUED],
  ['admitted', EventType.ADMITTED],
  ['attempt_started', EventType.ATTEMPT_STARTED],
  ['attempt_finished', EventType.ATTEMPT_FINISHED],
  ['retry_scheduled', EventType.RETRY_SCHEDULED],
  ['completed', EventType.COMPLETED],
]);

const EVENTS_WITH_CONTENT = 1; // LLMSVC_EVENTS_WITH_CONTENT

// The kinds of a typed piece, by llmsvc_piece_kind_t value.
const PIECE_KINDS = ['text', 'tool_call', 'tool_arguments'];

// The LLMSVC_EVENT_* bits of onEvents' `types`: bits, event names, or 'all'.
function eventMask(types) {
  if (types === 'all') return EventType.ALL;
  if (typeof types === 'number') {
    if (!Number.isInteger(types) || types < 0 || types > 0xffffffff) {
      throw new TypeError('types must be a non-negative integer of EventType bits');
    }
    return types; // bits the core does not define are refused by it (LLMSVC_EINVAL)
  }
  if (Array.isArray(types)) {
    let mask = 0;
    for (const name of types) {
      const bit = eventBits.get(name);
      if (bit === undefined) throw new TypeError(`unknown event type ${JSON.stringify(name)}`);
      mask |= bit;
    }
    return mask;
  }
  throw new TypeError('types must be EventType bits, an array of event names or "all"');
}

// What a listener threw: to its onError, else a process warning; never an uncaught
// exception.
function listenerFailed(err, event, onError) {
  if (onError !== undefined) {
    try {
      onError(err, event);
      return;
    } catch (e) {
      err = e;
    }
  }
  process.emitWarning(`an llmsvc event listener threw: ${err instanceof Error && err.stack ? err.stack : String(err)}`, {
    type: 'LlmsvcWarning',
    code: 'LLMSVC_EVENT_LISTENER',
  });
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

// The outcome of a result document: the response, or the error to throw.
function outcomeOf(text, signal) {
  const doc = JSON.parse(text);
  if (doc.ok) return { ok: true, response: new GenerateResponse(doc) };
  const cause = doc.error && doc.error.kind === 'cancelled' && signal != null && signal.aborted
    ? signal.reason
    : undefined;
  return { ok: false, error: errors.errorFromResult(doc, cause) };
}

class Client {
  #handle;
  #closing = null;
  // The function the native layer hands events to; the addon holds it weakly while no
  // request is pending, so this keeps it alive.
  #onEvent = null;
  // One abort listener per signal with requests pending on this client, however many
  // requests share the signal.
  #watches = new Map();

  /**
   * Creates a client and starts its engine thread.
   * @param {object|string} [config] the configuration document (docs/schema.md)
   */
  constructor(config) {
    this.#handle = native.open(config === undefined || config === null ? '{}' : documentOf(config, 'config'));
  }

  /**
   * Creates a client from a configuration file as the core reads it: YAML or JSON, in
   * llmsvc's layout, the llm.yaml key-pool layout or LiteLLM's config.yaml, with ${NAME}
   * environment references (docs/schema.md, "Configuration files"). An error names the
   * file, line and column. The file's warnings (what llmsvc does not use) are returned by
   * loadConfigFile().
   * @param {string} path
   * @returns {Client}
   */
  static fromFile(path) {
    return new Client(native.loadConfig(path)[0]);
  }

  /**
   * Sends one request through the client's gates and retries.
   * @param {object|string} request a request document, or a prompt
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<GenerateResponse>}
   */
  async generate(request, options) {
    const signal = options == null ? undefined : options.signal;
    if (signal != null && signal.aborted) throw errors.abortedBeforeSubmit(signal);
    const json = requestDocument(request);

    const handle = this.#handle;
    let text;
    if (signal == null) {
      text = await native.submit(handle, json);
    } else {
      const settled = native.submit(handle, json);
      const id = native.lastId(handle);
      this.#watch(signal).ids.add(id);
      try {
        text = await settled;
      } finally {
        this.#unwatch(signal, id);
      }
    }
    const outcome = outcomeOf(text, signal);
    if (outcome.ok) return outcome.response;
    throw outcome.error;
  }

  /**
   * Sends a request with a json_schema and resolves with its validated JSON document,
   * parsed. A document that does not match rejects with SchemaMismatchError.
   * @param {object} request a request document with json_schema
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<unknown>}
   */
  async generateJSON(request, options) {
    if (request === null || typeof request !== 'object' || Array.isArray(request) ||
        request.json_schema == null) {
      throw new TypeError('generateJSON needs a request object with json_schema');
    }
    return (await this.generate(request, options)).json;
  }

  /**
   * Sends a request whose reply is streamed. The returned stream is an async iterator of
   * the text pieces (`for await (const piece of client.stream(request))`) and has the
   * promise of the whole response as `.response`. Leaving the loop early, or aborting the
   * signal, cancels the request in the core. Errors, a refused submission included, are
   * thrown by the iterator and reject `.response`.
   * @param {object|string} request a request document, or a prompt
   * @param {{signal?: AbortSignal}} [options]
   * @returns {ResponseStream}
   */
  stream(request, options) {
    return this.#stream(request, options, native.submitStream, (push) => push);
  }

  /**
   * Sends a request whose reply is streamed as typed pieces: the same as stream(), but
   * the iterator yields `{ kind, index, callId, name, text }` objects — `kind` 'text' (a
   * piece of the answer), 'tool_call' (tool call `index` begins: `callId` and `name` set,
   * `text` empty) or 'tool_arguments' (the next piece of call `index`'s arguments, JSON
   * text). `callId` and `name` are null except on 'tool_call'. `.response` carries the
   * whole text and the assembled calls (`toolCalls`).
   * @param {object|string} request a request document, or a prompt
   * @param {{signal?: AbortSignal}} [options]
   * @returns {ResponseStream}
   */
  streamPieces(request, options) {
    return this.#stream(request, options, native.submitStreamPieces, (push) =>
      (kind, index, text, callId, name) => {
        const k = PIECE_KINDS[kind];
        // A kind a later core may add is left out: the response carries the whole reply.
        if (k === undefined) return;
        push({ kind: k, index, callId: callId ?? null, name: name ?? null, text });
      });
  }

  // A streamed request: `submit` is the native submit, `adapt(push)` the function the
  // native layer hands each piece to.
  #stream(request, options, submit, adapt) {
    const signal = options == null || options.signal == null ? null : options.signal;
    const ctl = {};
    const stream = new ResponseStream(kCreate, signal, ctl);
    if (signal !== null && signal.aborted) {
      ctl.settle({ ok: false, error: errors.abortedBeforeSubmit(signal) });
      return stream;
    }
    const handle = this.#handle;
    let settled;
    try {
      settled = submit(handle, requestDocument(request), adapt(ctl.push));
    } catch (err) {
      ctl.settle({ ok: false, error: err });
      return stream;
    }
    const id = native.lastId(handle);
    ctl.started(id, () => native.cancel(handle, id));
    if (signal !== null) this.#watch(signal).ids.add(id);
    settled.then(
      (text) => {
        if (signal !== null) this.#unwatch(signal, id);
        let outcome;
        try {
          outcome = outcomeOf(text, signal);
        } catch (err) {
          outcome = { ok: false, error: err };
        }
        ctl.settle(outcome);
      },
      (err) => {
        if (signal !== null) this.#unwatch(signal, id);
        ctl.settle({ ok: false, error: err });
      },
    );
    return stream;
  }

  #unwatch(signal, id) {
    const watch = this.#watches.get(signal);
    if (watch === undefined) return;
    watch.ids.delete(id);
    if (watch.ids.size === 0) {
      signal.removeEventListener('abort', watch.onAbort);
      this.#watches.delete(signal);
    }
  }

  #watch(signal) {
    let watch = this.#watches.get(signal);
    if (watch === undefined) {
      const handle = this.#handle;
      const ids = new Set();
      // Cancels in the core in every state: queued, backing off or in flight.
      const onAbort = () => {
        for (const id of ids) native.cancel(handle, id);
      };
      watch = { ids, onAbort };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#watches.set(signal, watch);
    }
    return watch;
  }

  /** One consistent snapshot of metrics, usage and cost (the metrics document). */
  metrics() {
    return JSON.parse(native.metrics(this.#handle));
  }

  /**
   * The same snapshot in the Prometheus text exposition format (version 0.0.4), to serve
   * as `text/plain; version=0.0.4` from a handler of your own.
   * @returns {string}
   */
  metricsPrometheus() {
    return native.metricsPrometheus(this.#handle);
  }

  /**
   * Changes the limits at run time; fields not given keep their value.
   * @param {{rpm?: number, tpm?: number, concurrency?: number, window_ms?: number}|string} limits
   */
  setLimits(limits) {
    native.setLimits(this.#handle, documentOf(limits, 'limits'));
  }

  /**
   * Changes one configured deployment at run time: `enabled: true` puts a deployment
   * taken out of rotation back, `false` takes it out; `weight`; `limits` (fields not
   * given keep their value). A name no deployment has throws StatusError LLMSVC_ESCHEMA.
   * @param {{name: string, enabled?: boolean, weight?: number, limits?: object}|string} deployment
   */
  setDeployment(deployment) {
    native.setDeployment(this.#handle, documentOf(deployment, 'deployment'));
  }

  /**
   * Delivers the lifecycle events of every request of this client to `listener`, each
   * as its event document (docs/schema.md, "Events"), parsed: `{type, request_id,
   * trace_id, model, operation, unix_ms, since_submit_ms, ...}`. Replaces the previous
   * listener; events queued for it and not yet delivered are dropped. Empty `types` turn
   * events off, as offEvents() does.
   *
   * Events reach JavaScript through the same queue as completions, in order: a request's
   * events come before its promise settles. `withContent` adds the request's wire body to
   * "queued" events (`request`) and the reply's text to "completed" events (`text`);
   * without it prompts and replies never appear in events, and keys never do. What the
   * listener throws goes to `onError(error, event)`, or else becomes a process warning.
   * @param {number|string[]|'all'} types EventType bits, event names, or 'all'
   * @param {(event: object) => void} listener
   * @param {{withContent?: boolean, onError?: (error: unknown, event: object|undefined) => void}} [options]
   */
  onEvents(types, listener, options) {
    const mask = eventMask(types);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const withContent = options != null && options.withContent === true;
    const onError = options == null || options.onError == null ? undefined : options.onError;
    if (onError !== undefined && typeof onError !== 'function') {
      throw new TypeError('options.onError must be a function');
    }
    if (mask === 0) {
      this.offEvents();
      return;
    }
    const onEvent = (json) => {
      let event;
      try {
        event = JSON.parse(json);
        listener(event);
      } catch (err) {
        listenerFailed(err, event, onError);
      }
    };
    native.setEventHook(this.#handle, mask, withContent ? EVENTS_WITH_CONTENT : 0, onEvent);
    this.#onEvent = onEvent;
  }

  /** Turns lifecycle events off: the listener is not called again. */
  offEvents() {
    native.setEventHook(this.#handle, 0, 0, undefined);
    this.#onEvent = null;
  }

  /** Requests whose promise has not settled yet. */
  get pending() {
    return native.pending(this.#handle);
  }

  /** True once close() was called. */
  get closed() {
    return this.#closing !== null;
  }

  /**
   * Refuses new requests and completes every pending one with ShutDownError. Resolves
   * when all of them have settled. Idempotent. metrics() stays usable afterwards.
   * @returns {Promise<void>}
   */
  close() {
    if (this.#closing === null) this.#closing = native.close(this.#handle);
    return this.#closing;
  }

  [asyncDispose]() {
    return this.close();
  }
}

/** The runtime version of libllmsvc. */
function coreVersion() {
  return native.version();
}

/**
 * Counters of the native layer in this thread's environment: requests whose promise has
 * not settled, core clients not yet destroyed, native client records not yet freed.
 */
function nativeStats() {
  return native.stats();
}

/**
 * Reads a configuration file as the core does (see Client.fromFile).
 * @param {string} path
 * @returns {{config: string, warnings: string[]}} llmsvc's configuration document (JSON;
 *   it holds the keys the file resolved) and what the file has that llmsvc does not use
 */
function loadConfigFile(path) {
  const [config, warnings] = native.loadConfig(path);
  return { config, warnings: JSON.parse(warnings) };
}

module.exports = { Client, EventType, ResponseStream, coreVersion, nativeStats, loadConfigFile };
