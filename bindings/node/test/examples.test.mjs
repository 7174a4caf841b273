// The JavaScript examples run against the emulator.
import assert from 'node:assert/strict';
import path from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { runNode, skipWithoutEmulator, startEmulator } from './emulator.mjs';

const examples = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples');

describe('examples', { skip: skipWithoutEmulator }, () => {
  let emu;
  let env;
  before(async () => {
    emu = await startEmulator();
    env = { ...process.env, OPENAI_BASE_URL: emu.baseURL, OPENAI_API_KEY: 'sk-example' };
  });
  after(async () => { await emu?.stop(); });

  test('examples/basic.mjs', async () => {
    const r = await runNode([path.join(examples, 'basic.mjs')], 30_000, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Say hi -> ".+" \(\d+ tokens, \d+ nano-USD, 1 attempt\(s\)\)/);
    assert.match(r.stdout, /requests: 3 ok, 0 failed/);
  });

  test('examples/abort.cjs', async () => {
    const r = await runNode([path.join(examples, 'abort.cjs')], 30_000, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Lorem/);
  });
});
