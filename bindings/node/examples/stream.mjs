// Streaming: the reply is printed piece by piece as it arrives; the response that follows
// carries the whole text, usage, cost and the time to the first text. The second request
// is left after a few pieces, which cancels it in the core.
//
//   OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-... node examples/stream.mjs
//
// (Any provider streams: add provider: 'anthropic', 'openai_responses' or 'ollama'.)
import process from 'node:process';

import { CancelledError, Client, LlmsvcError } from 'llmsvc';

const client = new Client({ model: 'gpt-4o-mini' });

try {
  // Ctrl-C (or 30 s) aborts the stream: the iterator then throws CancelledError.
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const stream = client.stream(
    { prompt: 'Tell a short story about a queue', max_output_tokens: 120 },
    { signal: AbortSignal.any ? AbortSignal.any([controller.signal, AbortSignal.timeout(30_000)]) : controller.signal },
  );
  try {
    for await (const piece of stream) process.stdout.write(piece);
    process.stdout.write('\n');
    const r = await stream.response;
    console.log(`[${r.usage?.completionTokens} tokens, first text after ${r.timing.firstTokenMs?.toFixed(1)} ms,`,
      `${r.timing.totalMs.toFixed(1)} ms in all, ${r.costNanoUsd ?? 'unknown'} nano-USD]`);
  } catch (err) {
    if (err instanceof CancelledError) console.log(`\n[aborted: ${err.cause?.message ?? err.message}]`);
    else if (err instanceof LlmsvcError) console.log(`\n[${err.kind}: ${err.message}]`);
    else throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }

  // Only the beginning is wanted: leaving the loop cancels the rest in the core (unless
  // the whole reply had already arrived).
  let head = '';
  const sea = client.stream('Describe the sea at length');
  for await (const piece of sea) {
    head += piece;
    if (head.length >= 20) break;
  }
  const rest = await sea.response.then(() => 'already complete', (e) => (e instanceof CancelledError ? 'cancelled' : e.kind));
  console.log(`first words: ${JSON.stringify(head)}; the rest: ${rest}; in flight now: ${client.metrics().requests.in_flight}`);
} finally {
  await client.close();
}
