'use strict';
// Client: a thin wrapper over one libllmsvc client. Gates, retry, metrics and cost are
// the core's; this file turns documents into JavaScript values and back.

const native = require('./native.cjs');
const errors = require('./errors.cjs');
const { GenerateResponse } = require('./response.cjs');

native.init(errors.StatusError);

const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

function documentOf(value, what) {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object or a JSON string`);
  }
  return JSON.stringify(value);
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
    let json;
    if (typeof request === 'string') json = JSON.stringify({ prompt: request });
    else json = documentOf(request, 'request');

    const handle = this.#handle;
    let text;
    if (signal == null) {
      text = await native.submit(handle, json);
    } else {
      const settled = native.submit(handle, json);
      const id = native.lastId(handle);
      const watch = this.#watch(signal);
      watch.ids.add(id);
      try {
        text = await settled;
      } finally {
        watch.ids.delete(id);
        if (watch.ids.size === 0) {
          signal.removeEventListener('abort', watch.onAbort);
          this.#watches.delete(signal);
        }
      }
    }
    const doc = JSON.parse(text);
    if (doc.ok) return new GenerateResponse(doc);
    const cause = doc.error && doc.error.kind === 'cancelled' && signal != null && signal.aborted
      ? signal.reason
      : undefined;
    throw errors.errorFromResult(doc, cause);
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
   * Changes the limits at run time; fields not given keep their value.
   * @param {{rpm?: number, tpm?: number, concurrency?: number, window_ms?: number}|string} limits
   */
  setLimits(limits) {
    native.setLimits(this.#handle, documentOf(limits, 'limits'));
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

module.exports = { Client, coreVersion, nativeStats };
