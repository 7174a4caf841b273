// Load program for the official `openai` npm package, the peer that llmsvc's
// benchmarks compare against. It keeps a fixed number of Chat Completions
// requests in flight until n are done and prints one line of JSON.
//
//   node bench.mjs --base-url http://127.0.0.1:PORT/v1 --n 2000 \
//       --concurrency 32 --model gpt-4o-mini [--warmup 200] [--max-tokens 16] [--stream]
//
// With --stream each request is streamed (stream_options.include_usage) and every
// chunk is read; a request counts as ok when its stream ended with a finish reason.
//
// Output (stdout, one line):
//   {"client":"openai-node","version":"...","requests":n,"ok":..,"errors":..,
//    "concurrency":c,"wall_s":..,"requests_per_s":..,"cpu_us_per_request":..,
//    "cpu_user_us":..,"cpu_sys_us":..}
//
// Wall time and CPU time (user + system, this process only) cover the
// measured requests; the warmup requests are not included. The exit status is
// non-zero if any measured or warmup request failed.

import { createRequire } from 'node:module';
import process from 'node:process';
import OpenAI from 'openai';

const require = createRequire(import.meta.url);

function usage(msg) {
  if (msg) process.stderr.write(`bench.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node bench.mjs --base-url URL --n N --concurrency C --model MODEL [--warmup W]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    baseURL: null, n: 2000, concurrency: 32, model: 'gpt-4o-mini', warmup: 0, maxTokens: 16,
    stream: false,
  };
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
      case '--max-tokens': opts.maxTokens = int('--max-tokens', 1); break;
      case '--stream': opts.stream = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument '${arg}'`);
    }
  }
  if (!opts.baseURL) usage('--base-url is required');
  return opts;
}

function packageVersion() {
  try {
    return require('openai/package.json').version;
  } catch {
    // Older packages do not export package.json; fall back to the SDK's own constant.
    try {
      return require('openai/version').VERSION;
    } catch {
      return 'unknown';
    }
  }
}

// Runs requests [first, first + count) with `concurrency` async workers, each
// taking the next index as soon as its previous request settles.
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
        const body = {
          model: opts.model,
          messages: [{ role: 'user', content: 'benchmark request ' + (first + i) }],
          max_completion_tokens: opts.maxTokens,
        };
        let answered;
        if (opts.stream) {
          const stream = await client.chat.completions.create({
            ...body, stream: true, stream_options: { include_usage: true },
          });
          let text = '';
          answered = false;
          for await (const chunk of stream) {
            const c = chunk.choices && chunk.choices[0];
            if (c && c.delta && c.delta.content) text += c.delta.content;
            if (c && c.finish_reason) answered = true;
          }
        } else {
          const completion = await client.chat.completions.create(body);
          answered = completion && Array.isArray(completion.choices) && completion.choices.length > 0;
        }
        if (answered) {
          ok++;
        } else {
          errors++;
          firstError ??= new Error('answer without choices');
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
  const status = err.status !== undefined ? ` (status ${err.status})` : '';
  return `${err.name || 'Error'}${status}: ${err.message}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const client = new OpenAI({ baseURL: opts.baseURL, apiKey: 'sk-bench', maxRetries: 2 });

  let failed = 0;
  if (opts.warmup > 0) {
    const w = await runPool(client, opts, 0, opts.warmup);
    if (w.errors > 0) {
      failed += w.errors;
      process.stderr.write(`bench.mjs: ${w.errors} warmup request(s) failed; first: ${describe(w.firstError)}\n`);
    }
  }

  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await runPool(client, opts, opts.warmup, opts.n);
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);

  const wallS = Number(t1 - t0) / 1e9;
  const cpuTotal = cpu.user + cpu.system;
  const round = (x, digits) => Number(x.toFixed(digits));
  const result = {
    client: 'openai-node',
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
