'use strict';
// Client: a thin wrapper over one libllmsvc client. Gates, retry, metrics and cost are
// the core's; this file turns documents into JavaScript values and back.

const native = require('./native.cjs');
const errors = require('./errors.cjs');
const { GenerateResponse } = require('./response.cjs');
const { ResponseStream, kCreate } = require('./stream.cjs');

native.init(errors.StatusError);

const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

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
      settled = native.submitStream(handle, requestDocument(request), ctl.push);
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

module.exports = { Client, ResponseStream, coreVersion, nativeStats };
