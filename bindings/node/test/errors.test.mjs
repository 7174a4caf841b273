// Retries, and the error class of each failure the core reports.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  AuthError, Client, ConnectionError, DeadlineExceededError, InsufficientQuotaError,
  LlmsvcError, NotFoundError, ServerError,
} from 'llmsvc';
import { skipWithoutEmulator, startEmulator } from './emulator.mjs';

describe('errors and retries', { skip: skipWithoutEmulator }, () => {
  let emu;
  before(async () => {
    emu = await startEmulator([
      '--fail-first', '2',
      '--quota-keys', 'sk-quota',
      '--invalid-keys', 'sk-invalid',
      '--known-models', 'gpt-4o-mini,gpt-4o',
    ]);
  });
  after(async () => { await emu?.stop(); });

  const config = (key, extra = {}) => ({
    base_url: emu.baseURL,
    api_key: key,
    model: 'gpt-4o-mini',
    retry: { base_delay_ms: 5, max_delay_ms: 20 },
    ...extra,
  });

  test('transient 500s are retried: --fail-first 2 gives 3 attempts and a success', async () => {
    const client = new Client(config('sk-retry'));
    try {
      const r = await client.generate({ prompt: 'retry me' });
      assert.equal(r.attempts.length, 3);
      assert.deepEqual(r.attempts.map((a) => a.httpStatus), [500, 500, 200]);
      assert.deepEqual(r.attempts.map((a) => a.kind), ['server_error', 'server_error', 'none']);
      assert.equal(r.attempts[0].backoffSource, 'client');
      assert.ok(r.attempts[0].backoffMs > 0);
      assert.ok(r.attempts[1].startMs >= r.attempts[0].startMs);
      const m = client.metrics();
      assert.equal(m.attempts.total, 3);
      assert.equal(m.attempts.retries, 2);
      assert.equal(m.attempts.errors_by_kind.server_error, 2);
      assert.equal((await emu.stats('sk-retry')).received, 3);
    } finally {
      await client.close();
    }
  });

  test('retries spent end in ServerError carrying every attempt', async () => {
    const client = new Client(config('sk-retry-spent', { retry: { max_attempts: 2, base_delay_ms: 5 } }));
    try {
      await assert.rejects(client.generate({ prompt: 'fails twice' }), (e) => {
        assert.ok(e instanceof ServerError);
        assert.ok(e instanceof LlmsvcError);
        assert.equal(e.name, 'ServerError');
        assert.equal(e.kind, 'server_error');
        assert.equal(e.httpStatus, 500);
        assert.equal(e.attempts.length, 2);
        // The provider's own text (error.provider_message), without the core's additions.
        assert.equal(e.providerMessage, 'The server had an error while processing your request. Sorry about that!');
        assert.equal(e.message, `HTTP 500: ${e.providerMessage} (gave up after 2 attempts)`);
        assert.ok(e.id > 0);
        assert.equal(e.result.ok, false);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  test('insufficient_quota is not retried: InsufficientQuotaError after one attempt', async () => {
    const client = new Client(config('sk-quota'));
    try {
      await assert.rejects(client.generate({ prompt: 'quota' }), (e) => {
        assert.ok(e instanceof InsufficientQuotaError);
        assert.equal(e.kind, 'insufficient_quota');
        assert.equal(e.httpStatus, 429);
        assert.equal(e.providerCode, 'insufficient_quota');
        assert.match(e.providerMessage, /quota/i);
        assert.equal(e.attempts.length, 1);
        return true;
      });
      assert.equal((await emu.stats('sk-quota')).received, 1);
    } finally {
      await client.close();
    }
  });

  test('an invalid key is not retried: AuthError after one attempt, key never echoed', async () => {
    const client = new Client(config('sk-invalid'));
    try {
      await assert.rejects(client.generate({ prompt: 'auth' }), (e) => {
        assert.ok(e instanceof AuthError);
        assert.equal(e.kind, 'auth');
        assert.equal(e.httpStatus, 401);
        assert.equal(e.providerCode, 'invalid_api_key');
        assert.equal(e.attempts.length, 1);
        assert.ok(!JSON.stringify(e.result).includes('sk-invalid'));
        return true;
      });
      assert.equal((await emu.stats('sk-invalid')).received, 1);
    } finally {
      await client.close();
    }
  });

  test('an unknown model: NotFoundError after one attempt', async () => {
    const client = new Client(config('sk-model'));
    try {
      await assert.rejects(client.generate({ model: 'gpt-nope', prompt: 'x' }), (e) =>
        e instanceof NotFoundError && e.httpStatus === 404 && e.attempts.length === 1 && e.model === 'gpt-nope');
    } finally {
      await client.close();
    }
  });

  test('nothing listening: ConnectionError with HTTP status 0', async () => {
    const client = new Client({ base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-x', model: 'gpt-4o-mini',
      retry: { max_attempts: 2, base_delay_ms: 5 } });
    try {
      await assert.rejects(client.generate('x'), (e) =>
        e instanceof ConnectionError && e.httpStatus === 0 && e.attempts.length === 2 && e.providerMessage === null);
    } finally {
      await client.close();
    }
  });

  test("the request's timeout_ms: DeadlineExceededError", async () => {
    const stall = await startEmulator(['--stall-rate', '1', '--stall-ms', '30000']);
    const client = new Client({ base_url: stall.baseURL, api_key: 'sk-deadline', model: 'gpt-4o-mini' });
    try {
      const t0 = Date.now();
      await assert.rejects(client.generate({ prompt: 'slow', timeout_ms: 200 }), DeadlineExceededError);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      await client.close();
      await stall.stop();
    }
  });
});
