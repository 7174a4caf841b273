// Streaming: client.stream() as an async iterator of text pieces with .response, for every
// provider; abort, leaving the loop, errors within a stream, slow consumers.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';

import {
  CancelledError,
  Client,
  GenerateResponse,
  LlmsvcError,
  ResponseStream,
  ServerError,
  StatusError,
  nativeStats,
} from 'llmsvc';
import { providers, skipWithoutEmulator, startEmulator, waitFor } from './emulator.mjs';

async function collect(stream) {
  const pieces = [];
  for await (const piece of stream) pieces.push(piece);
  return pieces;
}

describe('streaming without a server', () => {
  const config = { base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-x', model: 'gpt-4o-mini' };

  test('a refused request is thrown by the iterator and rejects .response; nothing is submitted', async () => {
    const client = new Client(config);
    try {
      const s = client.stream({ prompt: 'x', temperature: 5 });
      assert.ok(s instanceof ResponseStream);
      assert.equal(s.id, 0);
      await assert.rejects(collect(s), (e) => e instanceof StatusError && e.op === 'submit' && /temperature/.test(e.message));
      await assert.rejects(s.response, StatusError);
      await assert.rejects(collect(client.stream(7)), TypeError);
      await assert.rejects(client.stream({ prompt: 'x', json_schema: { schema: 1 } }).response,
        (e) => e instanceof StatusError && e.code === 'LLMSVC_ESCHEMA' && /json_schema/.test(e.message));
      assert.equal(client.metrics().requests.submitted, 0);
      // Nobody looked at this one's response or iterated it: no unhandled rejection follows.
      client.stream({ prompt: 'x', top_p: 9 });
    } finally {
      await client.close();
    }
    await assert.rejects(collect(client.stream('x')), (e) => e instanceof StatusError && e.code === 'LLMSVC_ECLOSED');
  });

  test('an already aborted signal throws CancelledError and submits nothing', async () => {
    const client = new Client(config);
    try {
      const reason = new Error('not wanted');
      const s = client.stream('x', { signal: AbortSignal.abort(reason) });
      await assert.rejects(s.next(), (e) => e instanceof CancelledError && e.name === 'AbortError' && e.cause === reason);
      assert.deepEqual(await s.next(), { done: true, value: undefined });
      await assert.rejects(s.response, CancelledError);
      assert.equal(client.metrics().requests.submitted, 0);
    } finally {
      await client.close();
    }
  });

  test('ResponseStream is not constructed directly', () => {
    assert.throws(() => new ResponseStream(), TypeError);
  });
});

describe('streaming', { skip: skipWithoutEmulator }, () => {
  let emu;
  let slow;
  let broken;
  before(async () => {
    emu = await startEmulator();
    slow = await startEmulator(['--stream-delay-ms', '200']);
    broken = await startEmulator(['--midstream-error-rate', '1']);
  });
  after(async () => {
    await emu?.stop();
    await slow?.stop();
    await broken?.stop();
  });

  for (const provider of ['openai_chat', 'openai_responses', 'anthropic', 'ollama']) {
    test(`${provider}: the pieces reassemble to generate()'s text`, async () => {
      const client = new Client(providers(emu, `sk-stream-${provider}`)[provider]);
      try {
        const request = { instructions: 'Be brief.', prompt: `Tell a story about ${provider}`, max_output_tokens: 120 };
        const whole = await client.generate(request);
        const s = client.stream(request);
        const pieces = await collect(s);
        assert.ok(pieces.length > 3, `${pieces.length} pieces`);
        for (const p of pieces) assert.equal(typeof p, 'string');
        assert.equal(pieces.join(''), whole.text);
        const r = await s.response;
        assert.ok(r instanceof GenerateResponse);
        assert.equal(r.id, s.id);
        assert.equal(r.text, whole.text);
        assert.equal(r.finishReason !== null, true);
        assert.deepEqual(r.usage, whole.usage);
        assert.equal(r.usage.estimated, false);
        assert.equal(r.costNanoUsd, whole.costNanoUsd);
        assert.equal(r.attempts.length, 1);
        assert.equal(typeof r.timing.firstTokenMs, 'number');
        assert.ok(r.timing.firstTokenMs > 0 && r.timing.firstTokenMs <= r.timing.totalMs);
        assert.equal(whole.timing.firstTokenMs, null);
        assert.deepEqual(await s.next(), { done: true, value: undefined });
        const m = client.metrics();
        assert.equal(m.first_token_ms.count, 1);
        assert.equal(m.requests.succeeded, 2);
        assert.equal(client.pending, 0);
      } finally {
        await client.close();
      }
    });
  }

  test('stream: true on generate() streams inside the core and returns the whole response', async () => {
    const client = new Client(providers(emu, 'sk-stream-flag').openai_chat);
    try {
      const r = await client.generate({ prompt: 'flag', stream: true });
      assert.ok(r.text.length > 0);
      assert.equal(typeof r.timing.firstTokenMs, 'number');
    } finally {
      await client.close();
    }
  });

  test('.response alone, without iterating; iterating afterwards still yields every piece', async () => {
    const client = new Client(providers(emu, 'sk-stream-resp').anthropic);
    try {
      const s = client.stream('only the response');
      const r = await s.response;
      assert.ok(r.text.length > 0);
      // Aborting after completion changes nothing: the core had finished.
      const ac = new AbortController();
      const s2 = client.stream('late abort', { signal: ac.signal });
      const r2 = await s2.response;
      ac.abort();
      assert.equal((await collect(s2)).join(''), r2.text);
      assert.equal((await collect(s)).join(''), r.text);
    } finally {
      await client.close();
    }
  });

  test('a slow consumer loses nothing and the engine does not wait for it', async () => {
    const client = new Client(providers(emu, 'sk-stream-slow').openai_chat);
    try {
      const s = client.stream({ prompt: 'slow consumer', max_output_tokens: 200 });
      let text = '';
      let completedWhileConsuming = false;
      for await (const piece of s) {
        text += piece;
        await new Promise((r) => setTimeout(r, 5));
        if (client.metrics().requests.completed === 1) completedWhileConsuming = true;
      }
      assert.equal(text, (await s.response).text);
      assert.ok(completedWhileConsuming, 'the request completed in the core while pieces were still queued');
    } finally {
      await client.close();
    }
  });

  test('concurrent next() calls get the pieces in order', async () => {
    const client = new Client(providers(emu, 'sk-stream-conc').openai_responses);
    try {
      const s = client.stream({ prompt: 'concurrent', max_output_tokens: 60 });
      const results = await Promise.all(Array.from({ length: 200 }, () => s.next()));
      const pieces = results.filter((r) => !r.done).map((r) => r.value);
      assert.equal(pieces.join(''), (await s.response).text);
      assert.ok(results.slice(pieces.length).every((r) => r.done));
    } finally {
      await client.close();
    }
  });

  for (const provider of ['openai_chat', 'openai_responses', 'anthropic', 'ollama']) {
    test(`${provider}: aborting mid-stream cancels in the core and throws AbortError`, async () => {
      const client = new Client(providers(slow, `sk-abort-${provider}`)[provider]);
      try {
        const ac = new AbortController();
        const reason = new Error('enough');
        const s = client.stream({ prompt: `abort ${provider}`, max_output_tokens: 200 }, { signal: ac.signal });
        const pieces = [];
        let t0 = 0;
        await assert.rejects(async () => {
          for await (const piece of s) {
            pieces.push(piece);
            if (pieces.length === 1) {
              t0 = Date.now();
              ac.abort(reason);
            }
          }
        }, (e) => {
          assert.ok(e instanceof CancelledError);
          assert.ok(e instanceof LlmsvcError);
          assert.equal(e.name, 'AbortError');
          assert.equal(e.code, 'ABORT_ERR');
          assert.equal(e.kind, 'cancelled');
          assert.equal(e.cause, reason);
          assert.equal(e.id, s.id);
          // Cut short after text came: what was used is an estimate.
          assert.equal(e.result.usage.estimated, true);
          return true;
        });
        assert.equal(pieces.length, 1, 'nothing is yielded after the abort');
        assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
        await assert.rejects(s.response, CancelledError);
        const m = client.metrics();
        assert.equal(m.requests.in_flight, 0);
        assert.equal(m.failures_by_kind.cancelled, 1);
        assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
        assert.equal(client.pending, 0);
      } finally {
        await client.close();
      }
    });
  }

  test('aborting while a piece is awaited', async () => {
    const client = new Client(providers(slow, 'sk-abort-waiting').openai_chat);
    try {
      const s = client.stream({ prompt: 'abort while waiting', max_output_tokens: 200 }, { signal: AbortSignal.timeout(300) });
      await assert.rejects(collect(s), (e) => e instanceof CancelledError && e.cause.name === 'TimeoutError');
      assert.equal(client.metrics().requests.in_flight, 0);
    } finally {
      await client.close();
    }
  });

  for (const provider of ['openai_chat', 'ollama']) {
    test(`${provider}: breaking out of the loop cancels in the core`, async () => {
      const client = new Client(providers(slow, `sk-break-${provider}`)[provider]);
      try {
        const gone = async () => (await slow.stats()).received.filter((r) => r.status === 0).length;
        const goneBefore = await gone();
        const s = client.stream({ prompt: `break ${provider}`, max_output_tokens: 200 });
        let n = 0;
        for await (const piece of s) {
          assert.equal(typeof piece, 'string');
          if (++n === 2) break;
        }
        // return() resolved once the core completed the request.
        const m = client.metrics();
        assert.equal(m.requests.in_flight, 0);
        assert.equal(m.requests.completed, 1);
        assert.equal(m.failures_by_kind.cancelled, 1);
        assert.equal(client.pending, 0);
        await assert.rejects(s.response, (e) => e instanceof CancelledError && e.cause === undefined);
        assert.deepEqual(await s.next(), { done: true, value: undefined });
        // The server saw the client leave before the end of the stream.
        await waitFor(async () => (await gone()) > goneBefore, 'the server to see the client leave');
      } finally {
        await client.close();
      }
    });
  }

  test('an exception in the loop body cancels too', async () => {
    const client = new Client(providers(slow, 'sk-throw').anthropic);
    try {
      const s = client.stream({ prompt: 'throw', max_output_tokens: 200 });
      await assert.rejects(async () => {
        for await (const piece of s) throw new Error(`stop at ${piece}`);
      }, /stop at/);
      assert.equal(client.metrics().requests.in_flight, 0);
      await assert.rejects(s.response, CancelledError);
    } finally {
      await client.close();
    }
  });

  for (const provider of ['openai_chat', 'openai_responses', 'anthropic', 'ollama']) {
    test(`${provider}: an error within the stream, after text, throws ServerError after the pieces`, async () => {
      const client = new Client(providers(broken, `sk-broken-${provider}`)[provider]);
      try {
        const s = client.stream({ prompt: `broken ${provider}`, max_output_tokens: 200 });
        const pieces = [];
        await assert.rejects(async () => {
          for await (const piece of s) pieces.push(piece);
        }, (e) => {
          assert.ok(e instanceof ServerError, `${e.name}: ${e.message}`);
          assert.equal(e.kind, 'server_error');
          assert.equal(typeof e.providerMessage, 'string');
          assert.ok(e.providerMessage.length > 0);
          assert.ok(e.message.includes(e.providerMessage));
          assert.equal(e.attempts.length, 1, 'not retried after text was delivered');
          assert.notEqual(e.result.usage, null);
          return true;
        });
        assert.ok(pieces.length > 0, 'the text before the error was yielded');
        await assert.rejects(s.response, ServerError);
        assert.deepEqual(await s.next(), { done: true, value: undefined });
      } finally {
        await client.close();
      }
    });
  }

  test('500 concurrent streams: every piece arrives, no native entry is left', async () => {
    const client = new Client(providers(emu, 'sk-many').openai_chat);
    try {
      const one = async (i) => {
        const s = client.stream({ prompt: `many ${i % 7}`, max_output_tokens: 40 });
        const text = (await collect(s)).join('');
        assert.equal(text, (await s.response).text);
        return text.length;
      };
      const lengths = await Promise.all(Array.from({ length: 500 }, (_, i) => one(i)));
      assert.ok(lengths.every((n) => n > 0));
      assert.equal(client.pending, 0);
      assert.equal(nativeStats().pendingEntries, 0);
      assert.equal(client.metrics().requests.succeeded, 500);
    } finally {
      await client.close();
    }
  });

  test('close() with streams pending throws ShutDownError from their iterators', async () => {
    const client = new Client(providers(slow, 'sk-close-stream').openai_chat);
    const s = client.stream({ prompt: 'closing', max_output_tokens: 200 });
    const it = s[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    await client.close();
    await assert.rejects(collect(s), (e) => e.name === 'ShutDownError' && e.kind === 'shut_down');
    assert.equal(client.pending, 0);
  });
});
