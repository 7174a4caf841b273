// What a whole request costs the binding and the core without the network: generate()
// answered from the core's memory cache, with a fixed number in flight.
//
//   node bench/cached.mjs --base-url http://127.0.0.1:PORT/v1 [--n 50000]
//       [--concurrency 32] [--rounds 5] [--package DIR]
//
// The first request is fetched from the server (an emulator) and cached; every measured
// request is the same one (temperature 0), so the core completes it on its engine thread
// at once, and what is measured is submit, the engine's cache hit, the batch to JavaScript,
// reading the result and settling the promise. --package measures another copy of this
// package (an earlier version, say) with the same program. Prints, per round and as the
// median over rounds, the CPU time per request of the JavaScript thread and of the whole
// process (µs), as one line of JSON.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const opts = { baseURL: null, n: 50000, concurrency: 32, rounds: 5,
  package: path.join(path.dirname(fileURLToPath(import.meta.url)), '..') };
for (let i = 2; i < process.argv.length; i += 2) {
  const [name, value] = [process.argv[i], process.argv[i + 1]];
  if (value === undefined) throw new Error(`${name} needs a value`);
  if (name === '--base-url') opts.baseURL = value;
  else if (name === '--package') opts.package = path.resolve(value);
  else if (['--n', '--concurrency', '--rounds'].includes(name)) opts[name.slice(2)] = Number(value);
  else throw new Error(`unknown argument ${name}`);
}
if (!opts.baseURL) throw new Error('--base-url is required');

const { Client } = createRequire(path.join(opts.package, 'index.cjs'))(path.join(opts.package, 'index.cjs'));
const threadCpuUs = () => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e3;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const client = new Client({ base_url: opts.baseURL, api_key: 'sk-cached', model: 'gpt-4o-mini', cache: { memory: true } });
const request = { messages: [{ role: 'user', content: 'benchmark request' }], max_output_tokens: 16, temperature: 0 };

async function run(count) {
  let next = 0;
  const worker = async () => {
    while (next++ < count) {
      const r = await client.generate(request);
      if (r.text.length === 0) throw new Error('an answer without text');
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
}

await run(5000); // the first fetches; then warm up
const rounds = [];
for (let r = 0; r < opts.rounds; r++) {
  const js0 = threadCpuUs();
  const cpu0 = process.cpuUsage();
  await run(opts.n);
  const cpu = process.cpuUsage(cpu0);
  rounds.push({ js: (threadCpuUs() - js0) / opts.n, process: (cpu.user + cpu.system) / opts.n });
}
await client.close();
const round2 = (x) => Number(x.toFixed(2));
process.stdout.write(JSON.stringify({
  package: opts.package,
  n: opts.n,
  concurrency: opts.concurrency,
  js_thread_cpu_us_per_request: round2(median(rounds.map((r) => r.js))),
  cpu_us_per_request: round2(median(rounds.map((r) => r.process))),
  rounds: rounds.map((r) => ({ js: round2(r.js), process: round2(r.process) })),
}) + '\n');
