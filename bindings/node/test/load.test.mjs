// Many concurrent promises on one client, and no leak over many thousands of requests.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Client, nativeStats } from 'llmsvc';
import { runNode, skipWithoutEmulator, startEmulator } from './emulator.mjs';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const MiB = 1024 * 1024;

describe('load', { skip: skipWithoutEmulator }, () => {
  let emu;
  before(async () => { emu = await startEmulator(); });
  after(async () => { await emu?.stop(); });

  test('5,000 concurrent promises on one client', async () => {
    const client = new Client({ base_url: emu.baseURL, api_key: 'sk-many', model: 'gpt-4o-mini' });
    try {
      const n = 5000;
      const ps = [];
      for (let i = 0; i < n; i++) ps.push(client.generate({ prompt: `many ${i}`, max_output_tokens: 8 }));
      assert.equal(client.pending, n);
      assert.ok(nativeStats().pendingEntries >= n);
      const rs = await Promise.all(ps);
      assert.equal(new Set(rs.map((r) => r.id)).size, n);
      for (const r of rs) assert.equal(r.usage.completionTokens <= 8, true);
      assert.equal(client.pending, 0);
      const m = client.metrics();
      assert.equal(m.requests.succeeded, n);
      assert.equal((await emu.stats('sk-many')).ok, n);
    } finally {
      await client.close();
    }
    assert.equal(nativeStats().pendingEntries, 0);
  });

  test('20,000 requests: heap and RSS stay bounded, no native entry left', async (t) => {
    const r = await runNode(
      ['--expose-gc', path.join(fixtures, 'leak.mjs'), emu.baseURL, '20000', '200'], 300_000);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.failed, 0);
    assert.equal(out.succeeded, 20000 + 4000);
    assert.equal(out.pending, 0);
    assert.equal(out.native.pendingEntries, 0);
    const heapGrowth = out.heapUsed1 - out.heapUsed0;
    const rssGrowth = out.rss1 - out.rss0;
    const report = `heap ${(heapGrowth / MiB).toFixed(2)} MiB, rss ${(rssGrowth / MiB).toFixed(2)} MiB`;
    t.diagnostic(report);
    assert.ok(heapGrowth < 4 * MiB, report);
    assert.ok(rssGrowth < 48 * MiB, report);
    assert.ok(out.external1 - out.external0 < 4 * MiB, report);
  });
});
