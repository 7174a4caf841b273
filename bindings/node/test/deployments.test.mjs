// Deployments: a key the provider refuses leaves the rotation without failing requests,
// and setDeployment puts it back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Status, StatusError } from 'llmsvc';
import { skipWithoutEmulator, startEmulator } from './emulator.mjs';

describe('deployments', { skip: skipWithoutEmulator }, () => {
  let emu;
  before(async () => { emu = await startEmulator(['--invalid-keys', 'sk-revoked']); });
  after(async () => { await emu?.stop(); });

  test('a revoked key goes out of rotation; setDeployment brings it back', async () => {
    const client = new Client({
      base_url: emu.baseURL,
      model: 'gpt-4o-mini',
      api_keys: ['sk-good', 'sk-revoked'],
      retry: { base_delay_ms: 1, max_delay_ms: 5 },
    });
    // The deployments of a key list are named MODEL#INDEX.
    const good = 'gpt-4o-mini#0';
    const revoked = 'gpt-4o-mini#1';
    const byName = (name) => {
      const d = (client.metrics().deployments ?? []).find((x) => x.name === name);
      assert.ok(d, `no deployment ${name}`);
      return d;
    };
    try {
      const n = 6;
      for (let i = 0; i < n; i++) {
        const r = await client.generate(`deployment ${i}`);
        assert.equal(r.deployment, good, JSON.stringify(r.attempts));
      }
      const revokedStats = await emu.stats('sk-revoked');
      assert.equal(revokedStats.auth_errors, 1);
      assert.equal(revokedStats.ok, 0);
      assert.equal((await emu.stats('sk-good')).ok, n);

      const m = client.metrics();
      assert.equal(m.deployments?.length, 2);
      assert.equal(m.routing?.strategy, 'round_robin');
      const out = byName(revoked);
      assert.equal(out.in_rotation, false);
      assert.equal(out.out_kind, 'auth');
      assert.ok(out.out_reason, 'a reason is given');
      const served = byName(good);
      assert.equal(served.in_rotation, true);
      assert.equal(served.served, n);

      client.setDeployment({ name: revoked, enabled: true });
      const back = byName(revoked);
      assert.equal(back.in_rotation, true);
      assert.equal(back.out_kind, undefined);

      assert.throws(() => client.setDeployment({ name: 'no-such-deployment', enabled: true }), (e) => {
        assert.ok(e instanceof StatusError);
        assert.equal(e.op, 'setDeployment');
        assert.equal(e.status, Status.ESCHEMA);
        assert.equal(e.code, 'LLMSVC_ESCHEMA');
        assert.match(e.message, /no-such-deployment/);
        return true;
      });
      assert.throws(() => client.setDeployment(7), TypeError);
    } finally {
      await client.close();
    }
  });
});
