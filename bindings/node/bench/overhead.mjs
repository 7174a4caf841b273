// What the binding costs per request on the JavaScript thread, without a network.
//
//   node bench/overhead.mjs [--n 20000] [--rounds 5]
//
// The client's concurrency limit is 1 and its one request hangs on a local server that
// accepts and never answers, so every measured request stops in the core's queue; no
// network work is done for them:
//
//   stringify         JSON.stringify of the request object (part of generate())
//   submit_native     the Node-API call alone, request string prepared: copying the string,
//                     llmsvc_client_submit (parse, validate, build the wire body on this
//                     thread, hand over to the engine thread and wake it)
//   generate_sync     the whole synchronous part of client.generate(): the two above plus
//                     argument handling, the promise and its entry in the client's map
//   settle_native     from close() of a bare native client until its promise resolved: the
//                     engine thread completing each request with shut_down and queueing the
//                     results, one message per engine pass; on this thread reading each
//                     with the typed getters into the batch arrays and one call of the sink
//                     per batch (a sink that does nothing)
//   read_response     reading one success result out of a batch into a GenerateResponse
//                     (what the client does with each completion; the batch as the addon
//                     writes it for a typical emulator answer, built here once)
//   settle_shut_down  from close() until every generate() promise has settled: the above,
//                     plus reading each result and building and rejecting its ShutDownError
//
// Each figure is the CPU time of the JavaScript thread (Linux: /proc/thread-self/schedstat;
// wall time elsewhere) divided by n, in µs per request, the median over rounds; work the
// engine thread does meanwhile on another core is not included. Prints a table, then one
// line of JSON.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import process from 'node:process';
import { setImmediate as tick } from 'node:timers/promises';
import { Client } from 'llmsvc';

const require = createRequire(import.meta.url);
const native = require('../lib/native.cjs');
const { Batch, readCompletion } = require('../lib/response.cjs');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const n = arg('--n', 20000);
const rounds = arg('--rounds', 5);

// A server that never answers, on 127.0.0.1.
const silent = net.createServer(() => {});
await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
silent.unref();

const config = {
  base_url: `http://127.0.0.1:${silent.address().port}/v1`,
  api_key: 'sk-overhead',
  model: 'gpt-4o-mini',
  limits: { concurrency: 1 },
};
const request = (i) => ({
  messages: [{ role: 'user', content: 'benchmark request ' + i }],
  max_output_tokens: 16,
});

function closedGateClient() {
  const client = new Client(config);
  client.generate('hangs').catch(() => {}); // holds the one slot until close()
  return client;
}

// A success result as the addon writes it into a batch for an emulator answer, after its
// type and id: its numbers (llmsvc_result_num_t), the string mask, one attempt and one
// choice without tool calls.
const DOC = JSON.stringify({
  id: 17, ok: true, model: 'gpt-4o-mini', operation: 'default',
  text: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do e',
  finish_reason: 'length', response_id: 'chatcmpl-qyp39A7DZY6hS0NM3TIJi6xItOjlH',
  response_model: 'gpt-4o-mini',
  usage: { prompt_tokens: 12, completion_tokens: 16, total_tokens: 28, cached_tokens: 0, reasoning_tokens: 0 },
  cost_nano_usd: 11400,
  attempts: [{ start_unix_ms: 1795346754760, start_ms: 0.384989, duration_ms: 1.388146, http_status: 200,
    kind: 'none', request_id: 'req_4c613b204290c7004e35d216eb28797b' }],
  timing: { submit_unix_ms: 1795346754759, total_ms: 1.773135, overhead_us: 6.357 },
});
const NUMS = new Float64Array([
  0, 200, 12, 16, 0, 0, 0, 1, 11400, 1, NaN, 1795346754759, 1773135, NaN, 6357, 1, 0, 0, 0, 4000, 384989, NaN,
  // model .. operation, text, provider, server address
  (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 14) | (1 << 15) | (1 << 16),
  200, 0, 384989, 1388146, 0, 0, 12, 16, 11400, 1795346754760, 384989, 1, // the attempt, a request id
  0, // choice 0: no tool calls
]);
const STRS = [DOC, 'gpt-4o-mini', 'gpt-4o-mini', 'chatcmpl-qyp39A7DZY6hS0NM3TIJi6xItOjlH', 'length', 'default',
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do e', 'openai', '127.0.0.1',
  'req_4c613b204290c7004e35d216eb28797b'];

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// CPU time of this (the JavaScript) thread in ns (Linux); wall time elsewhere.
function nowNs() {
  try {
    return BigInt(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    return process.hrtime.bigint();
  }
}
const usPer = (t0) => Number(nowNs() - t0) / 1e3 / n;

async function round() {
  const out = {};
  // stringify
  let t0 = nowNs();
  const docs = new Array(n);
  for (let i = 0; i < n; i++) docs[i] = JSON.stringify(request(i));
  out.stringify = usPer(t0);

  // submit_native
  {
    const h = native.open(JSON.stringify(config), () => {});
    native.submit(h, JSON.stringify({ prompt: 'hangs' }), 0, 0);
    t0 = nowNs();
    for (let i = 0; i < n; i++) native.submit(h, docs[i], 0, i + 1);
    out.submit_native = usPer(t0);
    t0 = nowNs();
    await native.close(h);
    out.settle_native = usPer(t0);
  }

  // generate_sync and settle_shut_down
  {
    const client = closedGateClient();
    const ps = new Array(n);
    t0 = nowNs();
    for (let i = 0; i < n; i++) ps[i] = client.generate(request(i));
    out.generate_sync = usPer(t0);
    const settled = Promise.allSettled(ps);
    t0 = nowNs();
    await client.close();
    const rs = await settled;
    out.settle_shut_down = usPer(t0);
    if (rs.some((x) => x.status !== 'rejected' || x.reason.kind !== 'shut_down')) {
      throw new Error('expected every request to end with shut_down');
    }
  }
  // read_response
  let sum = 0;
  t0 = nowNs();
  for (let i = 0; i < n; i++) sum += readCompletion(new Batch(NUMS, STRS), i + 1, null).text.length;
  out.read_response = usPer(t0);
  if (sum === 0) throw new Error('unreachable');

  globalThis.gc?.();
  await tick();
  return out;
}

const results = [];
await round(); // warm up
for (let r = 0; r < rounds; r++) results.push(await round());
const summary = {};
for (const k of Object.keys(results[0])) summary[k] = Number(median(results.map((x) => x[k])).toFixed(2));

process.stdout.write(`n=${n} per round, median of ${rounds} rounds, µs per request\n`);
for (const [k, v] of Object.entries(summary)) process.stdout.write(`  ${k.padEnd(18)} ${v.toFixed(2)}\n`);
process.stdout.write(JSON.stringify({ n, rounds, ...summary }) + '\n');
