// The client's gates hold the provider's limit: no 429s and the window filled to its cap.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client } from 'llmsvc';
import { skipWithoutEmulator, startEmulator } from './emulator.mjs';

describe('rate limits', { skip: skipWithoutEmulator }, () => {
  let emu;
  before(async () => { emu = await startEmulator(['--rpm', '1200', '--window-ms', '1000']); });
  after(async () => { await emu?.stop(); });

  test('rpm 1200 over 1 s windows (cap 20): zero 429s and a peak of exactly 20', async () => {
    const key = 'sk-gates';
    const client = new Client({
      base_url: emu.baseURL,
      api_key: key,
      model: 'gpt-4o-mini',
      limits: { rpm: 1200, window_ms: 1000 },
    });
    try {
      const n = 70;
      const t0 = Date.now();
      const rs = await Promise.all(Array.from({ length: n }, (_, i) => client.generate(`gate ${i}`)));
      const elapsed = Date.now() - t0;
      assert.equal(rs.length, n);
      for (const r of rs) assert.equal(r.attempts.length, 1);

      const s = await emu.stats(key);
      assert.equal(s.req_cap, 20);
      assert.equal(s.rate_limited, 0);
      assert.equal(s.peak_window_requests, 20);
      assert.equal(s.ok, n);
      // 70 requests at 20 per window need at least three full windows after the first.
      assert.ok(elapsed >= 2900, `finished in ${elapsed} ms`);

      const m = client.metrics();
      assert.equal(m.gates.window_requests_cap, 20);
      assert.ok(m.gates.waits.rpm > 0);
      assert.equal(m.attempts.errors_by_kind.rate_limited ?? 0, 0);
    } finally {
      await client.close();
    }
  });
});
