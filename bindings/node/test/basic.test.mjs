// Success, usage and cost, metrics against the emulator's own counts, submission errors.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import * as llmsvc from 'llmsvc';
import { Client, GenerateResponse, StatusError, coreVersion } from 'llmsvc';
import { skipWithoutEmulator, startEmulator } from './emulator.mjs';

const require = createRequire(import.meta.url);

// Built-in prices of the core, in nano-USD per token (USD per million tokens x 1000).
const PRICES = { 'gpt-4o-mini': { input: 150, output: 600 }, 'gpt-4o': { input: 2500, output: 10000 } };

describe('module', () => {
  test('ESM and CommonJS entry points export the same objects', () => {
    const cjs = require('llmsvc');
    assert.deepEqual(Object.keys(cjs).sort(), Object.keys(llmsvc).sort());
    for (const k of Object.keys(cjs)) assert.equal(llmsvc[k], cjs[k], k);
  });

  test('coreVersion is the library version', () => {
    assert.match(coreVersion(), /^\d+\.\d+\.\d+$/);
  });

  test('every error kind has its class', () => {
    const names = Object.keys(llmsvc.errorClasses);
    assert.equal(names.length, 20);  // every kind of the core but "none"
    for (const [kind, Ctor] of Object.entries(llmsvc.errorClasses)) {
      const e = new Ctor({ id: 1, ok: false, error: { kind, message: 'm', http_status: 0 }, attempts: [] });
      assert.ok(e instanceof llmsvc.LlmsvcError);
      assert.ok(e instanceof Error);
      assert.equal(e.kind, kind);
    }
  });
});

describe('submission errors (no server needed)', () => {
  test('a malformed configuration throws StatusError naming the field', () => {
    assert.throws(() => new Client({ limits: { rpm: 'many' } }), (e) => {
      assert.ok(e instanceof StatusError);
      assert.equal(e.op, 'new');
      assert.equal(e.code, 'LLMSVC_ESCHEMA');
      assert.equal(e.status, llmsvc.Status.ESCHEMA);
      assert.match(e.message, /rpm/);
      return true;
    });
    assert.throws(() => new Client({ nope: 1 }), (e) => e instanceof StatusError && /nope/.test(e.message));
    assert.throws(() => new Client('{'), (e) => e instanceof StatusError && e.code === 'LLMSVC_EJSON');
    assert.throws(() => new Client(42), TypeError);
  });

  test('a malformed request rejects with StatusError and submits nothing', async () => {
    const client = new Client({ base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-x', model: 'gpt-4o-mini' });
    try {
      await assert.rejects(client.generate({ prompt: 'x', temperature: 5 }), (e) => {
        assert.ok(e instanceof StatusError);
        assert.ok(!(e instanceof llmsvc.LlmsvcError));
        assert.equal(e.op, 'submit');
        assert.equal(e.code, 'LLMSVC_ESCHEMA');
        assert.match(e.message, /temperature/);
        return true;
      });
      await assert.rejects(client.generate({ prompt: 'x', colour: 'blue' }), /colour/);
      await assert.rejects(client.generate(7), TypeError);
      await assert.rejects(client.generate(null), TypeError);
      assert.throws(() => client.setLimits({ rpm: -1 }), (e) => e instanceof StatusError && e.op === 'setLimits');
      assert.equal(client.metrics().requests.submitted, 0);
      assert.equal(client.pending, 0);
    } finally {
      await client.close();
    }
  });

  test('a closed client refuses work with LLMSVC_ECLOSED', async () => {
    const client = new Client({ base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-x' });
    await client.close();
    assert.equal(client.closed, true);
    await assert.rejects(client.generate({ model: 'gpt-4o-mini', prompt: 'x' }), (e) =>
      e instanceof StatusError && e.code === 'LLMSVC_ECLOSED' && e.op === 'submit');
    await client.close(); // idempotent
    assert.equal(typeof client.metrics().requests.submitted, 'number'); // still readable
  });
});

describe('against the emulator', { skip: skipWithoutEmulator }, () => {
  let emu;
  before(async () => { emu = await startEmulator(); });
  after(async () => { await emu?.stop(); });

  test('success: text, usage, cost, attempts, ids and timing', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-basic', model: 'gpt-4o-mini' });
    try {
      const r = await client.generate({
        messages: [{ role: 'user', content: 'Hello there' }],
        max_output_tokens: 200,
        operation: 'greet',
        trace_id: 't-1',
        metadata: { row: '17' },
      });
      assert.ok(r instanceof GenerateResponse);
      // The emulator's token formula: "Hello there" on gpt-4o-mini gives 10 prompt tokens.
      assert.equal(r.usage.promptTokens, 10);
      assert.ok(r.usage.completionTokens >= 16 && r.usage.completionTokens < 64);
      assert.equal(r.usage.totalTokens, r.usage.promptTokens + r.usage.completionTokens);
      assert.equal(r.text.length, 4 * r.usage.completionTokens);
      assert.equal(r.costNanoUsd, 10 * 150 + r.usage.completionTokens * 600);
      assert.equal(r.costUsd, r.costNanoUsd / 1e9);
      assert.equal(r.finishReason, 'stop');
      assert.match(r.responseId, /^chatcmpl-/);
      assert.equal(r.model, 'gpt-4o-mini');
      assert.equal(r.operation, 'greet');
      assert.equal(r.traceId, 't-1');
      assert.deepEqual(r.metadata, { row: '17' });
      assert.ok(Number.isInteger(r.id) && r.id > 0);
      assert.equal(r.attempts.length, 1);
      assert.equal(r.attempts[0].httpStatus, 200);
      assert.equal(r.attempts[0].kind, 'none');
      assert.match(r.attempts[0].requestId, /^req_[0-9a-f]{32}$/);
      assert.ok(r.timing.totalMs > 0 && r.timing.overheadUs > 0);
      assert.ok(Math.abs(r.timing.submitUnixMs - Date.now()) < 60_000);
      assert.equal(r.raw.ok, true);

      const short = await client.generate('Hello there'); // a string is a prompt
      assert.equal(short.usage.promptTokens, 10);
      assert.ok(short.id > r.id);
    } finally {
      await client.close();
    }
  });

  test('large and non-ASCII documents cross the boundary intact', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-big', model: 'gpt-4o-mini' });
    try {
      const big = 'x'.repeat(50_000);
      const r = await client.generate({ prompt: big, max_output_tokens: 5 });
      assert.equal(r.usage.promptTokens, 3 + 4 + 50_000 / 4);
      const word = 'héllo wörld ✓ 😀'; // 22 bytes in UTF-8
      const u = await client.generate({ prompt: word, metadata: { note: word }, trace_id: word });
      assert.equal(u.usage.promptTokens, 3 + 4 + Math.ceil(Buffer.byteLength(word) / 4));
      assert.equal(u.metadata.note, word);
      assert.equal(u.traceId, word);
      const small = await client.generate('small again'); // the copy buffer stays usable
      assert.equal(small.usage.promptTokens, 3 + 4 + 3);
    } finally {
      await client.close();
    }
  });

  test('cost is null for an unpriced model and 0 for a free one', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-prices', free_models: ['llama3.2'] });
    try {
      const unpriced = await client.generate({ model: 'my-local-model', prompt: 'hi' });
      assert.equal(unpriced.costNanoUsd, null);
      assert.equal(unpriced.costUsd, null);
      assert.ok(unpriced.usage.totalTokens > 0);
      const free = await client.generate({ model: 'llama3.2', prompt: 'hi' });
      assert.equal(free.costNanoUsd, 0);
      const m = client.metrics();
      assert.equal(m.usage.by_model['my-local-model'].unpriced_requests, 1);
      assert.equal(m.usage.by_model['my-local-model'].cost_nano_usd, null);
    } finally {
      await client.close();
    }
  });

  test('metricsPrometheus gives the same snapshot as Prometheus text', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-prometheus' });
    try {
      for (let i = 0; i < 2; i++) {
        await client.generate({ model: 'gpt-4o-mini', prompt: `prom ${i}`, operation: 'back\\slash' });
      }
      const text = client.metricsPrometheus();
      assert.equal(typeof text, 'string');
      for (const want of [
        '# TYPE llmsvc_requests_total counter\n',
        'llmsvc_requests_total{outcome="succeeded"} 2\n',
        '# TYPE llmsvc_gate_wait_seconds histogram\n',
        'llmsvc_gate_wait_seconds_bucket{le="+Inf"} 2\n',
        'llmsvc_request_duration_seconds_count 2\n',
        'llmsvc_operation_requests_total{operation="back\\\\slash",outcome="succeeded"} 2\n',
      ]) {
        assert.ok(text.includes(want), `${JSON.stringify(want)} missing from:\n${text}`);
      }
      const m = client.metrics();
      assert.ok(text.includes(`llmsvc_attempts_total ${m.attempts.total}\n`));
      await client.close();
      assert.match(client.metricsPrometheus(), /llmsvc_requests_submitted_total 2\n/); // still readable
    } finally {
      await client.close();
    }
  });

  test('metrics, usage and cost totals equal the emulator statistics', async () => {
    const key = 'sk-totals';
    const client = new Client({ base_url: emu.baseURL, api_key: key });
    try {
      const n = 60;
      const rs = await Promise.all(Array.from({ length: n }, (_, i) => client.generate({
        model: i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        prompt: `totals ${i} ${'x'.repeat(i)}`,
        max_output_tokens: 10 + (i % 40),
        operation: i % 2 ? 'odd' : 'even',
      })));
      const m = client.metrics();
      const s = await emu.stats(key);

      assert.equal(s.ok, n);
      assert.equal(s.rate_limited, 0);
      assert.equal(m.requests.submitted, n);
      assert.equal(m.requests.succeeded, n);
      assert.equal(m.requests.failed, 0);
      assert.equal(m.attempts.total, s.received);
      const t = m.usage.total;
      assert.equal(t.requests, n);
      assert.equal(t.prompt_tokens, s.prompt_tokens);
      assert.equal(t.completion_tokens, s.completion_tokens);
      assert.equal(t.total_tokens, s.prompt_tokens + s.completion_tokens);

      // Cost: the emulator's per-model token sums priced independently, the metrics total,
      // and the sum of the responses all agree, to the nano-dollar.
      let expected = 0;
      for (const [model, ms] of Object.entries(s.models)) {
        const p = PRICES[model];
        expected += ms.prompt_tokens * p.input + ms.completion_tokens * p.output;
      }
      const sum = rs.reduce((a, r) => a + r.costNanoUsd, 0);
      assert.equal(t.cost_nano_usd, expected);
      assert.equal(sum, expected);
      assert.equal(
        m.usage.by_operation.odd.cost_nano_usd + m.usage.by_operation.even.cost_nano_usd, expected);
      assert.equal(m.usage.by_model['gpt-4o'].requests, n / 3);
    } finally {
      await client.close();
    }
  });

  test('setLimits changes the gates at run time', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-limits', limits: { rpm: 100 } });
    try {
      assert.equal(client.metrics().gates.limits.rpm, 100);
      client.setLimits({ rpm: 6000, concurrency: 8 });
      const l = client.metrics().gates.limits;
      assert.equal(l.rpm, 6000);
      assert.equal(l.concurrency, 8);
      client.setLimits('{"tpm": 50000}');
      assert.equal(client.metrics().gates.limits.tpm, 50000);
      assert.equal(client.metrics().gates.limits.rpm, 6000);
    } finally {
      await client.close();
    }
  });
});
