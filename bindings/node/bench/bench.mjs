// Load program for the llmsvc Node.js binding, with the same command line and output as
// the openai-node peer (bench/peers/openai-node/bench.mjs), so that both can be run
// against one emulator and compared. It keeps a fixed number of requests in flight
// until n are done and prints one line of JSON.
//
//   node bench.mjs --base-url http://127.0.0.1:PORT/v1 --n 2000 \
//       --concurrency 32 --model gpt-4o-mini [--warmup 200]
//
// Output (stdout, one line): the peer's fields
//   {"client":"llmsvc-node","version":"...","requests":n,"ok":..,"errors":..,
//    "concurrency":c,"wall_s":..,"requests_per_s":..,"cpu_us_per_request":..,
//    "cpu_user_us":..,"cpu_sys_us":..,
// and where this binding's CPU goes (Linux; null elsewhere):
//    "js_thread_cpu_us_per_request":..,   the JavaScript thread: generate(), the
//                                         Node-API calls, settling, parsing the result
//    "engine_cpu_us_per_request":..,      the core's engine thread: gates, libcurl, I/O
//    "core_overhead_us_p50":..}           the core's own accounting (metrics overhead_us)
//
// Wall time and CPU time (user + system, this process only) cover the measured requests;
// the warmup requests are not included. The exit status is non-zero if any measured or
// warmup request failed.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { Client, coreVersion } from 'llmsvc';

const require = createRequire(import.meta.url);

function usage(msg) {
  if (msg) process.stderr.write(`bench.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node bench.mjs --base-url URL --n N --concurrency C --model MODEL [--warmup W]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { baseURL: null, n: 2000, concurrency: 32, model: 'gpt-4o-mini', warmup: 0 };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    const int = (name, min) => {
      const s = next();
      if (!/^\d+$/.test(s)) usage(`${name} must be a non-negative integer, got '${s}'`);
      const v = Number(s);
      if (v < min) usage(`${name} must be at least ${min}`);
      return v;
    };
    switch (arg) {
      case '--base-url': opts.baseURL = next(); break;
      case '--n': opts.n = int('--n', 1); break;
      case '--concurrency': opts.concurrency = int('--concurrency', 1); break;
      case '--model': opts.model = next(); break;
      case '--warmup': opts.warmup = int('--warmup', 0); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument '${arg}'`);
    }
  }
  if (!opts.baseURL) usage('--base-url is required');
  return opts;
}

function packageVersion() {
  return `${require('../package.json').version} (core ${coreVersion()})`;
}

// CPU time of one thread of this process, in µs (Linux: sum_exec_runtime in ns).
function threadCpuUs(tid) {
  try {
    const text = fs.readFileSync(tid === 'self' ? '/proc/thread-self/schedstat' : `/proc/self/task/${tid}/schedstat`, 'utf8');
    return Number(text.split(' ')[0]) / 1000;
  } catch {
    return null;
  }
}

function taskIds() {
  try {
    return new Set(fs.readdirSync('/proc/self/task'));
  } catch {
    return new Set();
  }
}

// Runs requests [first, first + count) with `concurrency` async workers, each taking
// the next index as soon as its previous request settles.
async function runPool(client, opts, first, count) {
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError = null;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      try {
        const r = await client.generate({
          model: opts.model,
          messages: [{ role: 'user', content: 'benchmark request ' + (first + i) }],
          max_output_tokens: 16,
        });
        if (r.text.length > 0) {
          ok++;
        } else {
          errors++;
          firstError ??= new Error('answer without text');
        }
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  const workers = [];
  for (let w = 0; w < Math.min(opts.concurrency, count); w++) workers.push(worker());
  await Promise.all(workers);
  return { ok, errors, firstError };
}

function describe(err) {
  if (!err) return '';
  const status = err.httpStatus ? ` (status ${err.httpStatus})` : '';
  return `${err.name || 'Error'}${status}: ${err.message}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const before = taskIds();
  // Retries as the peer's maxRetries: 2 (three attempts in all).
  const client = new Client({ base_url: opts.baseURL, api_key: 'sk-bench', retry: { max_attempts: 3 } });
  const engineTids = [...taskIds()].filter((t) => !before.has(t));

  let failed = 0;
  if (opts.warmup > 0) {
    const w = await runPool(client, opts, 0, opts.warmup);
    if (w.errors > 0) {
      failed += w.errors;
      process.stderr.write(`bench.mjs: ${w.errors} warmup request(s) failed; first: ${describe(w.firstError)}\n`);
    }
  }

  const engineCpu = () => {
    let sum = 0;
    for (const tid of engineTids) {
      const us = threadCpuUs(tid);
      if (us === null) return null;
      sum += us;
    }
    return sum;
  };
  const js0 = threadCpuUs('self');
  const engine0 = engineCpu();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await runPool(client, opts, opts.warmup, opts.n);
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const js1 = threadCpuUs('self');
  const engine1 = engineCpu();
  const m = client.metrics();
  await client.close();

  const wallS = Number(t1 - t0) / 1e9;
  const cpuTotal = cpu.user + cpu.system;
  const round = (x, digits) => (x === null ? null : Number(x.toFixed(digits)));
  const perRequest = (a, b) => (a === null || b === null ? null : round((b - a) / opts.n, 1));
  const result = {
    client: 'llmsvc-node',
    version: packageVersion(),
    requests: opts.n,
    ok: r.ok,
    errors: r.errors,
    concurrency: opts.concurrency,
    wall_s: round(wallS, 4),
    requests_per_s: round(wallS > 0 ? opts.n / wallS : 0, 1),
    cpu_us_per_request: round(cpuTotal / opts.n, 1),
    cpu_user_us: cpu.user,
    cpu_sys_us: cpu.system,
    js_thread_cpu_us_per_request: perRequest(js0, js1),
    engine_cpu_us_per_request: engineTids.length ? perRequest(engine0, engine1) : null,
    core_overhead_us_p50: m.overhead_us.p50,
  };
  process.stdout.write(JSON.stringify(result) + '\n');

  if (r.errors > 0) {
    process.stderr.write(`bench.mjs: ${r.errors} request(s) failed; first: ${describe(r.firstError)}\n`);
  }
  failed += r.errors;
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`bench.mjs: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
