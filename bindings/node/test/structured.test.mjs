// Structured output: json_schema, response.json, generateJSON(), SchemaMismatchError, for
// every provider, whole and streamed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, LlmsvcError, SchemaMismatchError, StatusError, errorClasses } from 'llmsvc';
import { providers, skipWithoutEmulator, startEmulator } from './emulator.mjs';

const PET = {
  name: 'pet',
  schema: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 2 },
      age: { type: 'integer', minimum: 1 },
      kind: { enum: ['cat', 'dog'] },
    },
    required: ['name', 'age', 'kind'],
    additionalProperties: false,
  },
  strict: true,
};
// The emulator's smallest document for PET.
const EXPECTED = { name: 'aa', age: 1, kind: 'cat' };

const ALL = ['openai_chat', 'openai_responses', 'anthropic', 'ollama'];

describe('structured output without a server', () => {
  test('generateJSON needs a request object with json_schema', async () => {
    const client = new Client({ base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-x', model: 'gpt-4o-mini' });
    try {
      await assert.rejects(client.generateJSON({ prompt: 'x' }), TypeError);
      await assert.rejects(client.generateJSON('x'), TypeError);
      await assert.rejects(client.generateJSON(null), TypeError);
      // A schema the core cannot use is refused at submit, naming the field.
      await assert.rejects(client.generateJSON({ prompt: 'x', json_schema: { name: 'a b', schema: {} } }),
        (e) => e instanceof StatusError && e.code === 'LLMSVC_ESCHEMA' && /json_schema\.name/.test(e.message));
      await assert.rejects(client.generate({ prompt: 'x', json_schema: { name: 'x' } }),
        (e) => e instanceof StatusError && /json_schema\.schema/.test(e.message));
      assert.equal(client.metrics().requests.submitted, 0);
    } finally {
      await client.close();
    }
  });

  test('SchemaMismatchError carries pointer, keyword and output', () => {
    const e = new errorClasses.schema_mismatch({
      id: 3, ok: false, attempts: [],
      error: { kind: 'schema_mismatch', message: 'm', http_status: 200, pointer: '/a', keyword: 'required', output: '{}' },
    });
    assert.ok(e instanceof SchemaMismatchError);
    assert.equal(e.pointer, '/a');
    assert.equal(e.keyword, 'required');
    assert.equal(e.output, '{}');
  });
});

describe('structured output', { skip: skipWithoutEmulator }, () => {
  let emu;
  let invalid;
  before(async () => {
    emu = await startEmulator();
    invalid = await startEmulator(['--invalid-json-first', '1']);
  });
  after(async () => {
    await emu?.stop();
    await invalid?.stop();
  });

  for (const provider of ALL) {
    test(`${provider}: the document is parsed, whole and streamed`, async () => {
      const client = new Client(providers(emu, `sk-json-${provider}`)[provider]);
      try {
        const request = { prompt: `Invent a pet (${provider})`, json_schema: PET, max_output_tokens: 100 };
        const r = await client.generate(request);
        assert.deepEqual(r.json, EXPECTED);
        assert.deepEqual(JSON.parse(r.text), EXPECTED);
        assert.equal(r.attempts.length, 1);

        assert.deepEqual(await client.generateJSON(request), EXPECTED);

        const s = client.stream(request);
        let text = '';
        for await (const piece of s) text += piece;
        assert.deepEqual(JSON.parse(text), EXPECTED);
        assert.deepEqual((await s.response).json, EXPECTED);

        // Without a schema there is no document.
        assert.equal((await client.generate({ prompt: 'plain' })).json, undefined);
      } finally {
        await client.close();
      }
    });
  }

  for (const provider of ALL) {
    test(`${provider}: a mismatch with schema_retries 0 throws SchemaMismatchError with its pointer`, async () => {
      const config = { ...providers(invalid, `sk-mismatch-${provider}`)[provider], retry: { schema_retries: 0 } };
      const client = new Client(config);
      try {
        await assert.rejects(client.generateJSON({ prompt: `mismatch ${provider}`, json_schema: PET }), (e) => {
          assert.ok(e instanceof SchemaMismatchError, `${e.name}: ${e.message}`);
          assert.ok(e instanceof LlmsvcError);
          assert.equal(e.kind, 'schema_mismatch');
          // The emulator's invalid document lacks the first required property.
          assert.equal(e.pointer, '/name');
          assert.equal(e.keyword, 'required');
          assert.deepEqual(JSON.parse(e.output), { age: 1, kind: 'cat' });
          assert.equal(e.attempts.length, 1);
          assert.equal(e.httpStatus, 200);
          assert.equal(e.providerMessage, null);
          // The reply was paid for.
          assert.ok(e.result.usage.completion_tokens > 0);
          return true;
        });
      } finally {
        await client.close();
      }
    });
  }

  test('the core asks again once by default: the second document is returned', async () => {
    const client = new Client(providers(invalid, 'sk-schema-retry').openai_chat);
    try {
      const r = await client.generate({ prompt: 'ask again', json_schema: PET });
      assert.deepEqual(r.json, EXPECTED);
      assert.equal(r.attempts.length, 2);
      assert.equal(r.attempts[0].kind, 'schema_mismatch');
      assert.equal(r.attempts[1].kind, 'none');
      assert.equal(client.metrics().requests.succeeded, 1);
    } finally {
      await client.close();
    }
  });

  test('streamed: a mismatch after the pieces is thrown by the iterator (not asked again)', async () => {
    const client = new Client(providers(invalid, 'sk-schema-stream').anthropic);
    try {
      const s = client.stream({ prompt: 'streamed mismatch', json_schema: PET });
      let text = '';
      await assert.rejects(async () => {
        for await (const piece of s) text += piece;
      }, (e) => e instanceof SchemaMismatchError && e.pointer === '/name' && e.output === text);
      assert.equal(JSON.parse(text).name, undefined);
      await assert.rejects(s.response, SchemaMismatchError);
    } finally {
      await client.close();
    }
  });
});
