// Lifecycle events: onEvents / offEvents against the emulator.
import assert from 'node:assert/strict';
import path from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Client, EventType, ShutDownError, StatusError } from 'llmsvc';
import { runNode, skipWithoutEmulator, startEmulator, waitFor } from './emulator.mjs';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

const RETRIED = ['queued', 'admitted', 'attempt_started', 'attempt_finished', 'retry_scheduled',
  'admitted', 'attempt_started', 'attempt_finished', 'completed'];

describe('lifecycle events', { skip: skipWithoutEmulator }, () => {
  let failing; // answers the first arrival of each request with 500
  let plain;
  before(async () => {
    failing = await startEmulator(['--fail-first', '1']);
    plain = await startEmulator();
  });
  after(async () => {
    await failing?.stop();
    await plain?.stop();
  });

  const retried = (key) => ({
    base_url: failing.baseURL, api_key: key, model: 'gpt-4o-mini',
    retry: { max_attempts: 3, base_delay_ms: 1, max_delay_ms: 2 },
  });

  test('a retried request, queued and completed with content, then off', async () => {
    const client = new Client(retried('sk-events'));
    try {
      // Every event, without content: the request's whole life, before its promise settles.
      const all = [];
      client.onEvents('all', (e) => all.push(e));
      const prompt = 'a prompt that must stay out of the events';
      const r = await client.generate(prompt);
      assert.equal(r.attempts.length, 2, '--fail-first 1: one retry');
      assert.deepEqual(all.map((e) => e.type), RETRIED);
      for (const e of all) {
        assert.equal(e.request_id, r.id);
        assert.equal(e.model, 'gpt-4o-mini');
        const text = JSON.stringify(e);
        assert.ok(!text.includes(prompt), `content without withContent: ${text}`);
        assert.ok(r.text === '' || !text.includes(r.text), `content without withContent: ${text}`);
      }
      assert.equal(all[3].http_status, 500);
      assert.equal(all[3].kind, 'server_error');
      assert.equal(all[4].cause, 'server_error');
      assert.equal(all[4].after_attempt, 1);
      assert.equal(all[8].ok, true);
      all.length = 0;

      // Queued and completed only, with content: the prompt and the reply.
      const some = [];
      client.onEvents(EventType.QUEUED | EventType.COMPLETED, (e) => some.push(e), { withContent: true });
      const r2 = await client.generate('second prompt');
      assert.deepEqual(some.map((e) => e.type), ['queued', 'completed']);
      assert.equal(typeof some[0].request, 'object');
      assert.ok(JSON.stringify(some[0].request).includes('second prompt'));
      assert.equal(some[1].text, r2.text);
      assert.equal(some[1].request_id, r2.id);
      assert.equal(all.length, 0, 'the replaced listener was called');
      some.length = 0;

      // Off: nothing more.
      client.offEvents();
      await client.generate('third prompt');
      assert.equal(all.length + some.length, 0);

      // Names, and an empty set (off again).
      client.onEvents(['retry_scheduled', 'completed'], (e) => some.push(e.type));
      await client.generate('fourth prompt');
      assert.deepEqual(some, ['retry_scheduled', 'completed']);
      client.onEvents([], (e) => some.push(e.type));
      await client.generate('fifth prompt');
      assert.equal(some.length, 2);

      assert.throws(() => client.onEvents(['nope'], () => {}), TypeError);
      assert.throws(() => client.onEvents('all', 'not a function'), TypeError);
      assert.throws(() => client.onEvents(1 << 10, () => {}),
        (e) => e instanceof StatusError && e.code === 'LLMSVC_EINVAL' && e.op === 'setEventHook');
    } finally {
      await client.close();
    }
  });

  test('events of concurrent requests arrive in order, each before its promise settles', async () => {
    const client = new Client(retried('sk-events-many'));
    try {
      const byId = new Map();
      const settled = new Set();
      const late = [];
      client.onEvents(EventType.ALL, (e) => {
        if (settled.has(e.request_id)) late.push(`${e.type} of ${e.request_id}`);
        if (!byId.has(e.request_id)) byId.set(e.request_id, []);
        byId.get(e.request_id).push(e.type);
      });
      const rs = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        client.generate(`concurrent ${i}`).then((r) => { settled.add(r.id); return r; })));
      for (const r of rs) assert.deepEqual(byId.get(r.id), RETRIED, `request ${r.id}`);
      assert.deepEqual(late, [], 'events after their promise settled');
    } finally {
      await client.close();
    }
  });

  test('a listener that throws does not crash the process', async () => {
    const client = new Client(retried('sk-events-throw'));
    try {
      const errors = [];
      client.onEvents(['queued', 'completed'], (e) => { throw new Error(`boom ${e.type}`); },
        { onError: (err, e) => errors.push([err.message, e.type]) });
      await client.generate('throw');
      assert.deepEqual(errors, [['boom queued', 'queued'], ['boom completed', 'completed']]);

      // Without onError: a process warning.
      const warnings = [];
      const onWarning = (w) => { if (w.code === 'LLMSVC_EVENT_LISTENER') warnings.push(w); };
      process.on('warning', onWarning);
      try {
        client.onEvents(['completed'], () => { throw new Error('boom again'); });
        await client.generate('throw again');
        await waitFor(() => warnings.length === 1, 'the warning');
        assert.match(warnings[0].message, /boom again/);
      } finally {
        process.off('warning', onWarning);
      }
      client.offEvents();
      const r = await client.generate('still working');
      assert.ok(r.text.length > 0);
    } finally {
      await client.close();
    }
  });

  test('close() delivers the completed events of what was pending, then no more', async () => {
    // One request per minute: the first is sent, the next ones wait at the gate.
    const client = new Client({ base_url: plain.baseURL, api_key: 'sk-events-close',
      model: 'gpt-4o-mini', limits: { rpm: 1 } });
    const seen = [];
    client.onEvents(['completed'], (e) => seen.push(e));
    await client.generate('first');
    assert.equal(seen.length, 1);
    const outcomes = Promise.allSettled(Array.from({ length: 3 }, (_, i) => client.generate(`queued ${i}`)));
    await waitFor(() => client.metrics().requests.queued === 3, 'three queued requests');
    await client.close();
    for (const o of await outcomes) assert.ok(o.reason instanceof ShutDownError, String(o.reason));
    assert.deepEqual(seen.slice(1).map((e) => e.kind), ['shut_down', 'shut_down', 'shut_down']);
    assert.throws(() => client.onEvents('all', () => {}),
      (e) => e instanceof StatusError && e.code === 'LLMSVC_ECLOSED');
    client.offEvents(); // allowed after close
  });

  test('a listener does not keep its client from being collected, nor the process alive', async () => {
    const r = await runNode(['--expose-gc', path.join(fixtures, 'gc-events.mjs'), plain.baseURL], 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 20_000, `exited after ${r.ms} ms`);
    const out = JSON.parse(r.stdout);
    assert.equal(out.events, 4 * 5); // queued, admitted, attempt started and finished, completed
    assert.deepEqual(out.afterGc, { pendingEntries: 0, liveClients: 0, nativeClients: 0 });
    assert.equal(out.orphan, 1);
    assert.deepEqual(out.orphanEvents, ['queued', 'completed']);
    assert.deepEqual(out.end, { pendingEntries: 0, liveClients: 0, nativeClients: 0 });
  });
});
