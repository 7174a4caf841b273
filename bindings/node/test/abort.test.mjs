// AbortSignal: cancels in the core whether the request waits at a gate, waits to retry or
// is in flight; an already aborted signal rejects at once.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';

import { CancelledError, Client, LlmsvcError, nativeStats } from 'llmsvc';
import { skipWithoutEmulator, startEmulator, waitFor } from './emulator.mjs';

function assertCancelled(e, reason) {
  assert.ok(e instanceof CancelledError);
  assert.ok(e instanceof LlmsvcError);
  assert.equal(e.name, 'AbortError');
  assert.equal(e.code, 'ABORT_ERR');
  assert.equal(e.kind, 'cancelled');
  if (reason !== undefined) assert.equal(e.cause, reason);
  return true;
}

describe('abort', { skip: skipWithoutEmulator }, () => {
  let emu;
  before(async () => { emu = await startEmulator(); });
  after(async () => { await emu?.stop(); });

  test('an already aborted signal rejects at once and submits nothing', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-pre', model: 'gpt-4o-mini' });
    try {
      const reason = new Error('not wanted');
      await assert.rejects(client.generate('x', { signal: AbortSignal.abort(reason) }), (e) => {
        assertCancelled(e, reason);
        assert.equal(e.attempts.length, 0);
        return true;
      });
      assert.equal(client.metrics().requests.submitted, 0);
      assert.equal(client.pending, 0);
      // A signal that is not aborted changes nothing.
      const r = await client.generate('x', { signal: new AbortController().signal });
      assert.equal(r.attempts.length, 1);
    } finally {
      await client.close();
    }
  });

  test('abort while queued at a gate (client limit rpm 1)', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-queued', model: 'gpt-4o-mini',
      limits: { rpm: 1 } });
    try {
      await client.generate('first'); // spends the window
      const ac = new AbortController();
      const p = client.generate('second', { signal: ac.signal });
      await waitFor(() => client.metrics().requests.queued === 1, 'the request to queue');
      const reason = new Error('stop waiting');
      const t0 = Date.now();
      ac.abort(reason);
      await assert.rejects(p, (e) => assertCancelled(e, reason) && e.attempts.length === 0);
      assert.ok(Date.now() - t0 < 2000);
      const m = client.metrics();
      assert.equal(m.requests.queued, 0);
      assert.equal(m.failures_by_kind.cancelled, 1);
      assert.equal((await emu.stats('sk-queued')).received, 1);
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    } finally {
      await client.close();
    }
  });

  test('abort while backing off (--fail-first 1, retry base_delay_ms 60000)', async () => {
    const failing = await startEmulator(['--fail-first', '1']);
    const client = new Client({ base_url: failing.baseURL, api_key: 'sk-backoff', model: 'gpt-4o-mini',
      retry: { base_delay_ms: 60000, max_delay_ms: 120000 } });
    try {
      const ac = new AbortController();
      const p = client.generate('backoff', { signal: ac.signal });
      await waitFor(() => client.metrics().requests.backing_off === 1, 'the request to back off');
      const t0 = Date.now();
      ac.abort();
      await assert.rejects(p, (e) => {
        assertCancelled(e, ac.signal.reason);
        assert.equal(e.attempts.length, 1);
        assert.equal(e.attempts[0].httpStatus, 500);
        assert.ok(e.attempts[0].backoffMs >= 45000);
        return true;
      });
      assert.ok(Date.now() - t0 < 2000);
      assert.equal(client.metrics().requests.backing_off, 0);
    } finally {
      await client.close();
      await failing.stop();
    }
  });

  test('abort in flight (--stall-rate 1)', async () => {
    const stall = await startEmulator(['--stall-rate', '1', '--stall-ms', '60000']);
    const client = new Client({ base_url: stall.baseURL, api_key: 'sk-inflight', model: 'gpt-4o-mini' });
    try {
      const ac = new AbortController();
      const p = client.generate('stalled', { signal: ac.signal });
      await waitFor(() => client.metrics().requests.in_flight === 1, 'the request to be sent');
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      ac.abort();
      await assert.rejects(p, (e) => assertCancelled(e) && e.attempts.length === 1 && e.attempts[0].httpStatus === 0);
      assert.ok(Date.now() - t0 < 2000);
      assert.equal(client.metrics().requests.in_flight, 0);
      // The server saw the client leave: the call ends with no answer (status 0).
      await waitFor(async () => {
        const s = await stall.stats('sk-inflight');
        return s.stalls === 1 && s.ok === 0;
      }, 'the server to see the client leave');
      const { received } = await stall.stats();
      assert.equal(received.length, 1);
      assert.equal(received[0].status, 0);

      // AbortSignal.timeout works the same way; the cause is its TimeoutError.
      await assert.rejects(client.generate('stalled too', { signal: AbortSignal.timeout(100) }), (e) =>
        assertCancelled(e) && e.cause.name === 'TimeoutError');
    } finally {
      await client.close();
      await stall.stop();
    }
  });

  test('a long-lived signal shared by many requests keeps no listeners', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-shared', model: 'gpt-4o-mini' });
    try {
      const ac = new AbortController();
      await Promise.all(Array.from({ length: 200 }, (_, i) => client.generate(`s${i}`, { signal: ac.signal })));
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
      // Aborting after completion changes nothing.
      ac.abort();
      assert.equal(client.pending, 0);
      assert.equal(nativeStats().pendingEntries, 0);
    } finally {
      await client.close();
    }
  });
});
