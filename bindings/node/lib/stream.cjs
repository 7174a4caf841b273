'use strict';
// ResponseStream: the pieces of a streamed request as an async iterator — text (stream())
// or typed pieces (streamPieces()) — and the promise of its response.
//
// Back-pressure is on this side only. The native layer hands every piece over as soon as
// the core delivers it (the engine thread never waits for JavaScript); pieces the loop has
// not taken yet wait here, in order. They are bounded by the reply itself, whose whole text
// the response carries anyway.
//
// The outcome is the core's. Pieces delivered before a failure are yielded first, then the
// error is thrown. After an abort the iterator yields nothing more until the core has
// answered: cancelled (the error is thrown at once), or completed before the cancel reached
// it (the remaining pieces are yielded, as the response is whole). Leaving the loop early
// (break, return, throw) cancels the request in the core.

const kCreate = Symbol('llmsvc.ResponseStream');
const DONE = Object.freeze({ done: true, value: undefined });

function noop() {}

class ResponseStream {
  #pieces = []; // delivered, not taken yet: #pieces[#head...]
  #head = 0;
  #waiters = []; // next() calls waiting for a piece or the outcome
  #outcome = null; // { ok: true, response } or { ok: false, error }, once completed
  #finished = false; // the iteration is over: ended, thrown, or left early
  #signal;
  #cancel = null; // cancels the request in the core while it is pending
  #id = 0;
  #response;
  #resolve;
  #reject;

  /**
   * Not public: client.stream() and client.streamPieces() create streams. `ctl` receives
   * the functions the client drives it with: push(piece), started(id, cancel),
   * settle(outcome).
   */
  constructor(token, signal, ctl) {
    if (token !== kCreate) throw new TypeError('a ResponseStream is created by client.stream() or client.streamPieces()');
    this.#signal = signal ?? null;
    this.#response = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A failure is reported by the iterator too: not looking at the response is no error.
    this.#response.catch(noop);
    ctl.push = (piece) => {
      if (this.#finished) return;
      this.#pieces.push(piece);
      if (this.#waiters.length > 0) this.#wake();
    };
    ctl.started = (id, cancel) => {
      this.#id = id;
      this.#cancel = cancel;
    };
    ctl.settle = (outcome) => {
      this.#outcome = outcome;
      this.#cancel = null;
      if (outcome.ok) this.#resolve(outcome.response);
      else this.#reject(outcome.error);
      this.#wake();
    };
  }

  /**
   * The response, once the request completed: the whole text, usage, cost, attempts,
   * timing (with firstTokenMs) and, with a json_schema, the parsed document. Rejects as
   * the iterator throws.
   * @returns {Promise<import('./response.cjs').GenerateResponse>}
   */
  get response() {
    return this.#response;
  }

  /** The core's request id; 0 when nothing was submitted. */
  get id() {
    return this.#id;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** The next piece; done once the request completed and every piece was taken. */
  next() {
    if (this.#waiters.length === 0) {
      const step = this.#step();
      if (step !== null) return step.error === undefined ? Promise.resolve(step) : Promise.reject(step.error);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /**
   * Ends the iteration (what `break` calls). A request still pending is cancelled in the
   * core; resolves once the core has completed it.
   */
  async return(value) {
    if (!this.#finished) {
      this.#finish();
      if (this.#cancel !== null) this.#cancel();
      this.#wake();
    }
    await this.#response.then(noop, noop);
    return { done: true, value };
  }

  /** Ends the iteration as return() does, then throws `err`. */
  async throw(err) {
    await this.return();
    throw err;
  }

  // What next() gives now: a result, { error } to throw, or null to wait.
  #step() {
    if (this.#finished) return DONE;
    const outcome = this.#outcome;
    const aborted = this.#signal !== null && this.#signal.aborted;
    const more = this.#head < this.#pieces.length;
    if (outcome === null) {
      // After an abort, wait for the core's answer: cancelled, or completed first.
      return more && !aborted ? this.#shift() : null;
    }
    if (more && (outcome.ok || !aborted)) return this.#shift();
    this.#finish();
    return outcome.ok ? DONE : { error: outcome.error };
  }

  #shift() {
    const value = this.#pieces[this.#head];
    this.#pieces[this.#head++] = undefined;
    if (this.#head === this.#pieces.length) {
      this.#pieces.length = 0;
      this.#head = 0;
    }
    return { done: false, value };
  }

  #finish() {
    this.#finished = true;
    this.#pieces = [];
    this.#head = 0;
  }

  #wake() {
    while (this.#waiters.length > 0) {
      const step = this.#step();
      if (step === null) return;
      const w = this.#waiters.shift();
      if (step.error === undefined) w.resolve(step);
      else w.reject(step.error);
    }
  }
}

Object.defineProperty(ResponseStream.prototype, Symbol.toStringTag, { value: 'ResponseStream' });

module.exports = { ResponseStream, kCreate };
