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

  test('examples/stream.mjs', async () => {
    const r = await runNode([path.join(examples, 'stream.mjs')], 30_000, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Lorem ipsum/);
    assert.match(r.stdout, /\[\d+ tokens, first text after \d+\.\d ms, [\d.]+ ms in all, \d+ nano-USD\]/);
    assert.match(r.stdout, /first words: ".{20,}"; the rest: (cancelled|already complete); in flight now: 0/);
  });

  test('examples/structured.mjs', async () => {
    const r = await runNode([path.join(examples, 'structured.mjs')], 30_000, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pet: \{ name: 'a', species: 'cat', age: 0 \}/);
    assert.match(r.stdout, /json: \{ name: 'a', species: 'cat', age: 0 \} \(\d+ tokens, 1 attempt\(s\)\)/);
  });

  for (const provider of ['openai_chat', 'openai_responses', 'anthropic', 'ollama']) {
    test(`examples/tools.mjs ${provider}`, async () => {
      const r = await runNode([path.join(examples, 'tools.mjs'), provider], 30_000,
        { ...env, ANTHROPIC_BASE_URL: emu.baseURL, ANTHROPIC_API_KEY: 'sk-example', OLLAMA_HOST: emu.url });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^round 1\n {2}call 0: get_weather \(\S+\)\n {2}arguments 0: /);
      assert.match(r.stdout, /get_weather\(\{"city":.*\}\) -> 18 C and clear\nround 2\n/);
      assert.match(r.stdout, /answer: Tool results: 18 C and clear \(2 rounds, \d+ tokens in the last\)/);
    });
  }

  test('examples/abort.cjs', async () => {
    const r = await runNode([path.join(examples, 'abort.cjs')], 30_000, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Lorem/);
  });
});
