// close(), disposal, process exit with open clients, worker threads and garbage collection.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { Client, ShutDownError, StatusError, nativeStats } from 'llmsvc';
import { runNode, skipWithoutEmulator, startEmulator, waitFor } from './emulator.mjs';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('lifecycle', { skip: skipWithoutEmulator }, () => {
  let emu;
  let stall;
  let slowStream;
  before(async () => {
    emu = await startEmulator();
    stall = await startEmulator(['--stall-rate', '1', '--stall-ms', '60000']);
    slowStream = await startEmulator(['--stream-delay-ms', '2']);
  });
  after(async () => {
    await emu?.stop();
    await stall?.stop();
    await slowStream?.stop();
  });

  test('close() with requests pending rejects them with ShutDownError', async () => {
    const client = new Client({ base_url: stall.baseURL, api_key: 'sk-close', model: 'gpt-4o-mini',
      limits: { concurrency: 1 } });
    const ps = Array.from({ length: 5 }, (_, i) => client.generate(`pending ${i}`));
    const outcomes = Promise.allSettled(ps);
    await waitFor(() => client.metrics().requests.in_flight === 1, 'one request in flight');
    assert.equal(client.metrics().requests.queued, 4);
    assert.equal(client.pending, 5);

    const t0 = Date.now();
    await client.close();
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(client.closed, true);
    assert.equal(client.pending, 0);
    for (const o of await outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok(o.reason instanceof ShutDownError, String(o.reason));
      assert.equal(o.reason.kind, 'shut_down');
    }
    const m = client.metrics(); // still readable after close
    assert.equal(m.failures_by_kind.shut_down, 5);
    await assert.rejects(client.generate('late'), (e) => e instanceof StatusError && e.code === 'LLMSVC_ECLOSED');
  });

  test('Symbol.asyncDispose closes the client', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-dispose', model: 'gpt-4o-mini' });
    await client.generate('dispose');
    await client[Symbol.asyncDispose]();
    assert.equal(client.closed, true);
    await assert.rejects(client.generate('late'), StatusError);
  });

  test('the process exits by itself with an idle open client', async () => {
    const script = path.join(fixtures, 'idle-exit.mjs');
    for (const [mode, url, expected] of [
      ['request', emu.baseURL, 'ok 1'],
      ['unused', emu.baseURL, 'pending 0'],
      ['aborted', stall.baseURL, 'AbortError'],
    ]) {
      const r = await runNode([script, url, mode], 15_000);
      assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), expected, mode);
      assert.ok(r.ms < 10_000, `${mode}: exited after ${r.ms} ms`);
    }
  });

  test('process.exit() with requests in flight and queued exits cleanly', async () => {
    const r = await runNode([path.join(fixtures, 'exit-pending.mjs'), stall.baseURL], 15_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.signal, null);
    assert.equal(r.stdout.trim(), 'pending 10');
    assert.ok(r.ms < 10_000, `exited after ${r.ms} ms`);
  });

  test('process.exit() while streams deliver pieces exits cleanly', async () => {
    const r = await runNode([path.join(fixtures, 'stream-exit.mjs'), slowStream.baseURL], 15_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.signal, null);
    assert.equal(r.stdout.trim(), 'streaming 20');
    assert.ok(r.ms < 10_000, `exited after ${r.ms} ms`);
  });

  test('terminating a worker while its streams deliver pieces leaves this thread unaffected', async () => {
    const before = nativeStats();
    const t = new Worker(path.join(fixtures, 'worker.mjs'), { workerData: { baseURL: slowStream.baseURL, mode: 'stream' } });
    const m = await new Promise((resolve, reject) => { t.once('message', resolve); t.once('error', reject); });
    assert.equal(m.pending, 10);
    assert.equal(await t.terminate(), 1);
    assert.deepEqual(nativeStats(), before);
  });

  test('worker threads: one environment each; an open client lets the worker end', async () => {
    const script = path.join(fixtures, 'worker.mjs');
    const w = new Worker(script, { workerData: { baseURL: emu.baseURL, mode: 'requests' } });
    const [msg] = await Promise.all([
      new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }),
      new Promise((resolve) => w.once('exit', resolve)),
    ]);
    assert.equal(msg.ok, 50);
    assert.equal(msg.stats.pendingEntries, 0);
    assert.equal(msg.stats.liveClients, 1);

    // Terminating a worker with a request in flight: its environment's cleanup hook
    // destroys the client; this thread is unaffected.
    const before = nativeStats();
    const t = new Worker(script, { workerData: { baseURL: stall.baseURL, mode: 'stall' } });
    const m2 = await new Promise((resolve, reject) => { t.once('message', resolve); t.once('error', reject); });
    assert.equal(m2.pending, 1);
    await new Promise((r) => setTimeout(r, 100));
    const code = await t.terminate();
    assert.equal(code, 1);
    assert.deepEqual(nativeStats(), before);
    const r = await new Client({ base_url: emu.baseURL, api_key: 'sk-main', model: 'gpt-4o-mini' }).generate('main');
    assert.equal(r.attempts.length, 1);
  });

  test('garbage collection closes and frees unreachable idle clients, never busy ones', async () => {
    const r = await runNode(['--expose-gc', path.join(fixtures, 'gc-close.mjs'), emu.baseURL], 30_000);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.before.liveClients >= 1);
    assert.deepEqual(out.afterGc, { pendingEntries: 0, liveClients: 0, nativeClients: 0 });
    assert.equal(out.orphanLive, 1);
    assert.equal(out.orphan, 1);
    assert.deepEqual(out.end, { pendingEntries: 0, liveClients: 0, nativeClients: 0 });
  });
});
