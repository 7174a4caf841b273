// Starts llmsvc-emulator (the binary named by $LLMSVC_EMULATOR) on 127.0.0.1 for a test.
import { spawn } from 'node:child_process';
import process from 'node:process';

export const EMULATOR = process.env.LLMSVC_EMULATOR || '';

/** For { skip } in node:test: a reason when the emulator is not configured, else false. */
export const skipWithoutEmulator = EMULATOR
  ? false
  : 'LLMSVC_EMULATOR is not set (path to the llmsvc-emulator binary)';

/**
 * Starts an emulator with the given flags and resolves once it listens.
 * @returns {Promise<{url: string, baseURL: string, stats(key?: string): Promise<any>,
 *   reset(): Promise<void>, stop(): Promise<void>}>}
 */
export function startEmulator(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(EMULATOR, ['--host', '127.0.0.1', '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => fail(new Error('the emulator did not start within 10 s')), 10_000);
    const fail = (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n${err}`));
    };
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`the emulator exited (${code})`)));
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^listening on (127\.0\.0\.1:\d+)\n/.exec(out);
      if (!m || done) return;
      done = true;
      clearTimeout(timer);
      const url = `http://${m[1]}`;
      const exited = new Promise((r) => child.once('exit', r));
      resolve({
        url,
        baseURL: `${url}/v1`,
        async stats(key) {
          const r = await fetch(`${url}/_emulator/stats${key === undefined ? '' : `?key=${encodeURIComponent(key)}`}`);
          if (!r.ok) throw new Error(`stats: HTTP ${r.status}`);
          return r.json();
        },
        async reset() {
          const r = await fetch(`${url}/_emulator/reset`, { method: 'POST' });
          if (!r.ok) throw new Error(`reset: HTTP ${r.status}`);
        },
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.ref(); // wait for it, even with nothing else to do
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
    // The emulator must never outlive the test process, nor keep it running.
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.removeListener('exit', kill));
    child.unref();
    child.stdout.unref?.();
    child.stderr.unref?.();
  });
}

/** A client configuration for each provider, against one emulator (`key` is the API key). */
export function providers(emu, key) {
  return {
    openai_chat: { provider: 'openai_chat', base_url: emu.baseURL, api_key: key, model: 'gpt-4o-mini' },
    openai_responses: { provider: 'openai_responses', base_url: emu.baseURL, api_key: key, model: 'gpt-4o-mini' },
    anthropic: { provider: 'anthropic', base_url: emu.baseURL, api_key: key, model: 'claude-3-5-haiku-latest' },
    ollama: { provider: 'ollama', base_url: emu.url, model: 'llama3.2' },
  };
}

/** Polls fn() until it returns a truthy value, or fails after timeoutMs. */
export async function waitFor(fn, what, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `node ...args`; resolves with its exit code, output and duration, or fails after limitMs. */
export function runNode(args, limitMs, env = process.env) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not exit within ${limitMs} ms\n${stderr}`));
    }, limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
