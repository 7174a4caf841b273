// Tools and the rest of the request surface: typed tool calls, a tool round trip and
// streamed tool calls as typed pieces (client.streamPieces()) on every provider; n with
// choices, JSON mode, logprobs, service tiers, Anthropic thinking and prompt caching; bad
// input refused as StatusError naming the field.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { CancelledError, Client, GenerateResponse, ResponseStream, StatusError, nativeStats } from 'llmsvc';
import { providers, skipWithoutEmulator, startEmulator } from './emulator.mjs';

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
    },
  },
];

async function collect(stream) {
  const pieces = [];
  for await (const piece of stream) pieces.push(piece);
  return pieces;
}

// The calls a stream's typed pieces describe, assembled as the core assembles them.
function assemble(pieces) {
  const calls = [];
  for (const p of pieces) {
    if (p.kind === 'tool_call') {
      assert.equal(p.index, calls.length, 'calls begin in order');
      assert.equal(p.text, '');
      calls.push({ id: p.callId, name: p.name, arguments: '' });
    } else if (p.kind === 'tool_arguments') {
      assert.ok(p.index < calls.length, 'arguments follow their call');
      assert.equal(p.callId, null);
      assert.equal(p.name, null);
      calls[p.index].arguments += p.text;
    }
  }
  return calls;
}

describe('tools without a server', () => {
  const config = { base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-x', model: 'gpt-4o-mini' };

  test('a tool message answering no call is refused: StatusError naming the field, nothing submitted', async () => {
    const client = new Client(config);
    try {
      const request = {
        tools,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'tool', tool_call_id: 'call_9', content: '18 C' },
        ],
      };
      const refused = (e) => e instanceof StatusError && e.op === 'submit' && e.code === 'LLMSVC_ESCHEMA' &&
        /request\.messages\[1\]\.tool_call_id/.test(e.message) && /call_9/.test(e.message);
      await assert.rejects(client.generate(request), refused);
      const s = client.streamPieces(request);
      assert.ok(s instanceof ResponseStream);
      assert.equal(s.id, 0);
      await assert.rejects(collect(s), refused);
      await assert.rejects(s.response, refused);
      assert.equal(client.metrics().requests.submitted, 0);
    } finally {
      await client.close();
    }
  });

  test('malformed tools, tool choices and headers are refused with the field named', async () => {
    const client = new Client(config);
    try {
      const schemaError = (field) => (e) => e instanceof StatusError && e.code === 'LLMSVC_ESCHEMA' && e.message.includes(field);
      await assert.rejects(client.generate({ prompt: 'x', tool_choice: { type: 'function', function: { name: 'nope' } }, tools }),
        schemaError('request.tool_choice'));
      await assert.rejects(client.generate({ prompt: 'x', tools: [{ type: 'function', function: { name: 'bad name' } }] }),
        schemaError('.name'));
      await assert.rejects(client.generate({ prompt: 'x', tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: 5 } } }] }),
        schemaError('.parameters'));
      await assert.rejects(client.generate({ prompt: 'x', extra_headers: { authorization: 'Bearer other' } }),
        (e) => e instanceof StatusError && e.code === 'LLMSVC_ESCHEMA');
      await assert.rejects(client.generate({ prompt: 'x', n: 0 }), schemaError('n'));
      await assert.rejects(collect(client.streamPieces(7)), TypeError);
      assert.throws(() => new Client({ ...config, headers: { 'x-api-key': 'k2' } }), StatusError);
      assert.equal(client.metrics().requests.submitted, 0);
    } finally {
      await client.close();
    }
  });

  test('a reply maps to typed tool calls, choices, logprobs and usage_unreadable', async () => {
    // A provider of our own, answering every request with this reply: two choices, the
    // first calling a tool the request offers with good arguments and one it does not offer
    // with broken ones, token log probabilities, and usage counts that are not counts.
    const reply = {
      id: 'chatcmpl-own', object: 'chat.completion', created: 1, model: 'm-1', service_tier: 'flex',
      choices: [
        { index: 0, finish_reason: 'tool_calls', logprobs: { content: [{ token: 'hi', logprob: -0.5, bytes: null, top_logprobs: [] }] },
          message: { role: 'assistant', content: null, tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'c2', type: 'function', function: { name: 'lookup', arguments: '{"x":' } }] } },
        { index: 1, finish_reason: null, message: { role: 'assistant', content: 'hi' } },
      ],
      usage: { prompt_tokens: -3, completion_tokens: 2, total_tokens: -1 },
    };
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply)));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new Client({ base_url: `http://127.0.0.1:${server.address().port}/v1`, api_key: 'sk-own',
      model: 'm', retry: { max_attempts: 1 } });
    try {
      const r = await client.generate({ prompt: 'x', n: 2, logprobs: true, tools: [tools[0]] });
      assert.ok(r instanceof GenerateResponse);
      assert.deepEqual(r.toolCalls, [
        { id: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}', argumentsJson: { city: 'Paris' }, argumentsError: null, unknownTool: false },
        { id: 'c2', name: 'lookup', arguments: '{"x":', argumentsJson: null, argumentsError: r.toolCalls[1].argumentsError, unknownTool: true },
      ]);
      assert.equal(typeof r.toolCalls[1].argumentsError, 'string');
      assert.equal(r.choices.length, 2);
      assert.deepEqual(r.choices[0].toolCalls.map((c) => c.id), ['c1', 'c2']);
      assert.equal(r.choices[0].logprobs[0].token, 'hi');
      assert.deepEqual(r.choices[1], { index: 1, text: 'hi', finishReason: null, toolCalls: [], logprobs: null });
      assert.equal(r.logprobs[0].logprob, -0.5);
      assert.equal(r.serviceTier, 'flex');
      assert.equal(r.responseModel, 'm-1');
      assert.equal(r.usageUnreadable, true);
      assert.equal(r.usage, null);
      assert.equal(r.costNanoUsd, null);
      assert.equal(r.thinking, null);
      assert.equal(r.thinkingSignature, null);
      assert.equal(r.raw.usage_unreadable, true);
      assert.deepEqual(r.toMessage(), {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'c2', type: 'function', function: { name: 'lookup', arguments: '{"x":' } },
        ],
      });
      assert.throws(() => new GenerateResponse(), TypeError);
    } finally {
      await client.close();
      server.close();
    }
  });
});

describe('tools', { skip: skipWithoutEmulator }, () => {
  let emu;
  let slow;
  before(async () => {
    emu = await startEmulator();
    slow = await startEmulator(['--stream-delay-ms', '200']);
  });
  after(async () => {
    await emu?.stop();
    await slow?.stop();
  });

  for (const provider of ['openai_chat', 'openai_responses', 'anthropic', 'ollama']) {
    test(`${provider}: a tool round trip — typed calls, then their results sent back`, async () => {
      const client = new Client(providers(emu, 'sk-tools')[provider]);
      try {
        const question = 'Use get_weather and get_time for Paris.';
        const first = await client.generate({ tools, tool_choice: 'auto', prompt: question });
        assert.equal(first.finishReason, 'tool_calls');
        assert.deepEqual(first.toolCalls.map((c) => c.name), ['get_weather', 'get_time']);
        for (const call of first.toolCalls) {
          assert.ok(call.id.length > 0);
          assert.deepEqual(call.argumentsJson, JSON.parse(call.arguments));
          assert.equal(call.argumentsError, null);
          assert.equal(call.unknownTool, false);
        }
        assert.equal(typeof first.toolCalls[0].argumentsJson.city, 'string');

        const second = await client.generate({
          tools,
          messages: [
            { role: 'user', content: question },
            first.toMessage(),
            ...first.toolCalls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: `${c.name} done` })),
          ],
        });
        assert.equal(second.text, 'Tool results: get_weather done; get_time done');
        assert.deepEqual(second.toolCalls, []);
        assert.notEqual(second.finishReason, 'tool_calls');
      } finally {
        await client.close();
      }
    });

    test(`${provider}: streamed tool calls arrive as typed pieces and assemble to the response's calls`, async () => {
      const client = new Client(providers(emu, 'sk-tools')[provider]);
      try {
        const s = client.streamPieces({ tools, prompt: 'Use get_weather and get_time for Oslo.' });
        const pieces = await collect(s);
        const r = await s.response;
        assert.ok(s.id > 0);
        assert.equal(r.finishReason, 'tool_calls');
        assert.equal(r.toolCalls.length, 2);
        assert.deepEqual(assemble(pieces), r.toolCalls.map(({ id, name, arguments: a }) => ({ id, name, arguments: a })));
        for (const p of pieces) assert.deepEqual(Object.keys(p), ['kind', 'index', 'callId', 'name', 'text']);
        const argumentPieces = pieces.filter((p) => p.kind === 'tool_arguments' && p.index === 0).length;
        // Ollama sends each call whole; the others stream the arguments.
        if (provider === 'ollama') assert.equal(argumentPieces, 1);
        else assert.ok(argumentPieces > 1, `${argumentPieces} argument piece(s)`);
        assert.equal(r.text, pieces.filter((p) => p.kind === 'text').map((p) => p.text).join(''));
      } finally {
        await client.close();
      }
    });

    test(`${provider}: text comes as typed text pieces joining to generate()'s text`, async () => {
      const client = new Client(providers(emu, 'sk-tools')[provider]);
      try {
        const request = { prompt: 'Tell me about queues', max_output_tokens: 60 };
        const s = client.streamPieces(request);
        const pieces = await collect(s);
        const r = await s.response;
        assert.ok(pieces.length > 1);
        for (const p of pieces) {
          assert.equal(p.kind, 'text');
          assert.equal(p.index, 0);
          assert.equal(p.callId, null);
          assert.equal(p.name, null);
        }
        assert.equal(pieces.map((p) => p.text).join(''), r.text);
        assert.equal(r.text, (await client.generate(request)).text);
        assert.equal(typeof r.timing.firstTokenMs, 'number');
      } finally {
        await client.close();
      }
    });
  }

  test('stream() still yields text only: a reply of tool calls yields nothing, its response has the calls', async () => {
    const client = new Client(providers(emu, 'sk-tools').openai_chat);
    try {
      const s = client.stream({ tools, prompt: 'Use get_weather for Rome.' });
      assert.deepEqual(await collect(s), []);
      const r = await s.response;
      assert.deepEqual(r.toolCalls.map((c) => c.name), ['get_weather']);
    } finally {
      await client.close();
    }
  });

  test('tool_choice required and a named tool; parallel_tool_calls false', async () => {
    const client = new Client(providers(emu, 'sk-tools').openai_chat);
    try {
      const required = await client.generate({ tools, tool_choice: 'required', parallel_tool_calls: false, prompt: 'Anything.' });
      assert.equal(required.toolCalls.length, 1);
      const named = await client.generate({ tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, prompt: 'Time please, get_time.' });
      assert.deepEqual(named.toolCalls.map((c) => c.name), ['get_time']);
    } finally {
      await client.close();
    }
  });

  test('leaving a stream of pieces early cancels the request in the core', async () => {
    const client = new Client(providers(slow, 'sk-tools').openai_chat);
    try {
      const s = client.streamPieces({ prompt: 'A long story', max_output_tokens: 400 });
      for await (const piece of s) {
        assert.equal(piece.kind, 'text');
        break;
      }
      await assert.rejects(s.response, CancelledError);
      assert.equal(client.pending, 0);
      assert.equal(nativeStats().pendingEntries, 0);
    } finally {
      await client.close();
    }
  });

  test('aborting a stream of pieces throws CancelledError from the iterator', async () => {
    const client = new Client(providers(slow, 'sk-tools').anthropic);
    try {
      const controller = new AbortController();
      const s = client.streamPieces({ tools, prompt: 'Use get_weather for Lima.' }, { signal: controller.signal });
      const seen = [];
      await assert.rejects((async () => {
        for await (const piece of s) {
          seen.push(piece);
          controller.abort();
        }
      })(), CancelledError);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].kind, 'tool_call');
      await assert.rejects(s.response, CancelledError);
    } finally {
      await client.close();
    }
  });

  test('n: every choice, the first also as text', async () => {
    const client = new Client(providers(emu, 'sk-n').openai_chat);
    try {
      const r = await client.generate({ prompt: 'say hi', n: 3, frequency_penalty: 0.1, presence_penalty: 0.1 });
      assert.equal(r.choices.length, 3);
      assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
      assert.equal(r.choices[0].text, r.text);
      assert.notEqual(r.choices[1].text, r.choices[0].text);
      for (const c of r.choices) {
        assert.equal(c.finishReason, 'stop');
        assert.deepEqual(c.toolCalls, []);
      }
      assert.equal((await client.generate('say hi')).choices, null);
    } finally {
      await client.close();
    }
  });

  test('logprobs and service_tier', async () => {
    const chat = new Client(providers(emu, 'sk-lp').openai_chat);
    const responses = new Client(providers(emu, 'sk-lp').openai_responses);
    try {
      const r = await chat.generate({ prompt: 'say hi', logprobs: true, top_logprobs: 2, service_tier: 'flex' });
      assert.ok(Array.isArray(r.logprobs) && r.logprobs.length > 0);
      assert.equal(r.logprobs[0].top_logprobs.length, 2);
      assert.equal(r.serviceTier, 'flex');
      const plain = await chat.generate('say hi');
      assert.equal(plain.logprobs, null);
      const rr = await responses.generate({ prompt: 'say hi', logprobs: true, top_logprobs: 1 });
      assert.ok(Array.isArray(rr.logprobs) && rr.logprobs.length > 0);
    } finally {
      await chat.close();
      await responses.close();
    }
  });

  for (const provider of ['openai_chat', 'openai_responses', 'ollama']) {
    test(`${provider}: JSON mode parses the answer into json`, async () => {
      const client = new Client(providers(emu, 'sk-json')[provider]);
      try {
        const r = await client.generate({ prompt: 'Answer in JSON: a colour.', response_format: { type: 'json_object' } });
        assert.equal(typeof r.json, 'object');
        assert.ok(r.json !== null && !Array.isArray(r.json));
        assert.deepEqual(r.json, JSON.parse(r.text));
      } finally {
        await client.close();
      }
    });
  }

  test('anthropic: the signed thinking goes back in the next round through toMessage()', async () => {
    const client = new Client(providers(emu, 'sk-think').anthropic);
    try {
      const base = { tools, max_output_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 } };
      const question = { role: 'user', content: 'Use get_weather for Paris.' };
      const first = await client.generate({ ...base, messages: [question] });
      assert.ok(first.thinking.length > 0);
      assert.ok(first.thinkingSignature.length > 0);
      assert.equal(first.toolCalls.length, 1);
      const message = first.toMessage();
      assert.deepEqual(message.content, [{ type: 'thinking', thinking: first.thinking, signature: first.thinkingSignature }]);
      const second = await client.generate({
        ...base,
        messages: [question, message, { role: 'tool', tool_call_id: first.toolCalls[0].id, content: '18 C' }],
      });
      assert.equal(second.finishReason, 'end_turn');
      assert.match(second.text, /18 C/);
    } finally {
      await client.close();
    }
  });

  test('anthropic: a 1h cache breakpoint writes, then reads; configured headers are accepted', async () => {
    const client = new Client({ ...providers(emu, 'sk-cache').anthropic, headers: { 'x-team': 'search' } });
    try {
      const request = {
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'r'.repeat(8000), cache_control: { type: 'ephemeral', ttl: '1h' } }] },
          { role: 'user', content: 'hi' },
        ],
        extra_headers: { 'x-request-tag': 't1' },
      };
      const first = await client.generate(request);
      assert.ok(first.usage.cacheWriteTokens > 0);
      assert.equal(first.usage.cacheWrite1hTokens, first.usage.cacheWriteTokens);
      assert.equal(first.usageUnreadable, false);
      const second = await client.generate(request);
      assert.equal(second.usage.cachedTokens, first.usage.cacheWriteTokens);
      assert.equal(second.usage.cacheWrite1hTokens, 0);
    } finally {
      await client.close();
    }
  });

  test('no native entry is left after many streams of pieces', async () => {
    const client = new Client(providers(emu, 'sk-many').openai_chat);
    try {
      const streams = Array.from({ length: 100 }, (_, i) =>
        client.streamPieces({ tools, prompt: i % 2 ? 'Use get_weather for Bern.' : 'hello' }));
      const results = await Promise.all(streams.map(async (s) => ({ pieces: await collect(s), r: await s.response })));
      for (const { pieces, r } of results) {
        assert.deepEqual(assemble(pieces).map((c) => c.arguments), r.toolCalls.map((c) => c.arguments));
      }
      assert.equal(client.pending, 0);
      assert.equal(nativeStats().pendingEntries, 0);
    } finally {
      await client.close();
    }
  });
});
