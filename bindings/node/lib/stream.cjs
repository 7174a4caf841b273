'use strict';
// ResponseStream: the pieces of a streamed request as an async iterator — text (stream())
// or typed pieces (streamPieces()) — and the promise of its response.
//
// Back-pressure is on this side only: the addon hands every piece over as the core delivers
// it (the engine never waits for JavaScript); pieces the loop has not taken yet wait here, in
// order, bounded by the reply itself, whose whole text the response carries anyway.
//
// The outcome is the core's. Pieces delivered before a failure are yielded first, then the
// error is thrown. After an abort nothing more is yielded until the core has answered:
// cancelled (the error is thrown at once), or completed before the cancel reached it (the
// remaining pieces are yielded: the response is whole). Leaving the loop early (break,
// return, throw) cancels the request in the core.

const kCreate = Symbol('llmsvc.ResponseStream');
const DONE = Object.freeze({ done: true, value: undefined });
const PIECE_KINDS = ['text', 'tool_call', 'tool_arguments']; // by llmsvc_piece_kind_t

function noop() {}

class ResponseStream {
  #pieces = []; // delivered, not taken yet
  #waiters = []; // next() calls waiting for a piece or the outcome
  #outcome = null; // { ok, value } once the request completed
  #finished = false; // the iteration is over: ended, thrown, or left early
  #signal;
  #cancel = null; // cancels the request in the core while it is pending
  #id = 0;
  #response;

  /** Not public. `ctl` receives what the client drives the stream with. */
  constructor(token, signal, typed, ctl) {
    if (token !== kCreate) throw new TypeError('a ResponseStream is created by client.stream() or client.streamPieces()');
    this.#signal = signal;
    let settle;
    this.#response = new Promise((resolve, reject) => {
      settle = (ok, value) => (ok ? resolve : reject)(value);
    });
    this.#response.catch(noop); // the iterator reports a failure too: not looking is no error
    const complete = (ok, value) => {
      this.#outcome = { ok, value };
      this.#cancel = null;
      settle(ok, value);
      this.#wake();
    };
    Object.assign(ctl, {
      signal,
      resolve: (response) => complete(true, response),
      reject: (error) => complete(false, error),
      started: (id, cancel) => {
        this.#id = id;
        this.#cancel = cancel;
      },
      piece: (kind, index, text, callId, name) => {
        // A kind a later core may add is left out: the response carries the whole reply.
        if (this.#finished || (typed && PIECE_KINDS[kind] === undefined)) return;
        this.#pieces.push(typed ? { kind: PIECE_KINDS[kind], index, callId, name, text } : text);
        this.#wake();
      },
    });
  }

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

  next() {
    const step = this.#waiters.length === 0 ? this.#step() : null;
    if (step !== null) return 'error' in step ? Promise.reject(step.error) : Promise.resolve(step);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Ends the iteration (what `break` calls), cancelling a pending request; resolves once
   * the core has completed it. */
  async return(value) {
    if (!this.#finished) {
      this.#finished = true;
      this.#pieces = [];
      this.#cancel?.();
      this.#wake();
    }
    await this.#response.then(noop, noop);
    return { done: true, value };
  }

  async throw(err) {
    await this.return();
    throw err;
  }

  // What next() gives now: a result, { error } to throw, or null to wait.
  #step() {
    if (this.#finished) return DONE;
    const outcome = this.#outcome;
    const aborted = this.#signal?.aborted === true;
    // Before the outcome, and after an abort, wait for the core's answer: cancelled, or
    // completed first (then the response is whole and every piece is yielded).
    if (this.#pieces.length > 0 && (outcome === null ? !aborted : outcome.ok || !aborted)) {
      return { done: false, value: this.#pieces.shift() };
    }
    if (outcome === null) return null;
    this.#finished = true;
    this.#pieces = [];
    return outcome.ok ? DONE : { error: outcome.value };
  }

  #wake() {
    for (let step; this.#waiters.length > 0 && (step = this.#step()) !== null;) {
      const w = this.#waiters.shift();
      if ('error' in step) w.reject(step.error);
      else w.resolve(step);
    }
  }
}

Object.defineProperty(ResponseStream.prototype, Symbol.toStringTag, { value: 'ResponseStream' });

module.exports = { ResponseStream, kCreate };
