// Embeddings: the vectors come from the core's typed getters, copied into Float32Arrays by
// the addon, equal to the result document's to the bit.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, coreVersion } from 'llmsvc';
import { skipWithoutEmulator, startEmulator } from './emulator.mjs';

const [major, minor] = coreVersion().split('.').map(Number);
const skip = skipWithoutEmulator || (major === 0 && minor < 5 ? 'embeddings need libllmsvc 0.5' : false);

describe('embeddings', { skip }, () => {
  let emu;
  let client;
  before(async () => {
    emu = await startEmulator();
    client = new Client({ base_url: emu.baseURL, api_key: 'sk-embed', model: 'gpt-4o-mini' });
  });
  after(async () => {
    await client?.close();
    await emu?.stop();
  });

  test('one Float32Array per input, equal to the document', async () => {
    const r = await client.generate({ model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 8 });
    const doc = r.raw.embeddings;
    assert.equal(r.embeddings.length, 2);
    assert.equal(doc.length, 2);
    for (let i = 0; i < 2; i++) {
      const v = r.embeddings[i];
      assert.ok(v instanceof Float32Array);
      assert.equal(v.length, 8);
      // The document's 9 significant digits read back to the same float32.
      assert.deepEqual(v, Float32Array.from(doc[i]));
    }
    assert.notEqual(r.embeddings[0].buffer, r.embeddings[1].buffer);
    assert.ok(r.usage.promptTokens > 0);
    assert.ok(r.costNanoUsd !== null);
  });

  test('other requests have none', async () => {
    const r = await client.generate({ prompt: 'hi', max_output_tokens: 3 });
    assert.equal(r.embeddings, null);
  });
});
