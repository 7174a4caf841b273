// Configuration files read by the core: Client.fromFile and loadConfigFile.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client, Status, StatusError, loadConfigFile } from 'llmsvc';
import { skipWithoutEmulator, startEmulator } from './emulator.mjs';

describe('configuration files', { skip: skipWithoutEmulator }, () => {
  let emu;
  let dir;
  before(async () => {
    emu = await startEmulator();
    dir = mkdtempSync(join(tmpdir(), 'llmsvc-node-config-'));
  });
  after(async () => {
    await emu?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an llm.yaml key pool spreads requests over its keys', async () => {
    process.env.LLMSVC_NODE_POOL_KEY = 'sk-node-pool-1';
    const path = join(dir, 'llm.yaml');
    writeFileSync(path, `providers:
  openai:
    base_url: ${emu.baseURL}
    api_keys: ["\${LLMSVC_NODE_POOL_KEY}", sk-node-pool-2]
    models: [gpt-4o-mini]
    rate_limits: [{requests_per_minute: 600, burst: 2}]
`);
    const { config, warnings } = loadConfigFile(path);
    assert.equal(JSON.parse(config).deployments.length, 2);
    assert.deepEqual(warnings, ['config.providers.openai.rate_limits[0].burst: ignored']);
    const client = Client.fromFile(path);
    try {
      for (let i = 0; i < 4; i++) await client.generate(`pool ${i}`);
      assert.equal((await emu.stats('sk-node-pool-1')).ok, 2);
      assert.equal((await emu.stats('sk-node-pool-2')).ok, 2);
    } finally {
      await client.close();
      delete process.env.LLMSVC_NODE_POOL_KEY;
    }
  });

  test('a bad file is a StatusError naming the line and column', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'model: m\nlimits: {rpm: x}\n');
    assert.throws(() => Client.fromFile(path), (e) => {
      assert.ok(e instanceof StatusError);
      assert.equal(e.status, Status.ESCHEMA);
      assert.match(e.message, /bad\.yaml:2:15: config\.limits\.rpm: expected an integer/);
      return true;
    });
  });
});
