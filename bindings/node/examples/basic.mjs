// A few requests through one client, then its usage and cost.
//
//   OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-... node examples/basic.mjs
//
// (base_url and api_key default to $OPENAI_BASE_URL and $OPENAI_API_KEY; a local
// llmsvc-emulator works as the server.)
import { Client, LlmsvcError, RateLimitedError } from 'llmsvc';

const client = new Client({
  model: 'gpt-4o-mini',
  limits: { rpm: 500, tpm: 200000, concurrency: 16 },
  retry: { max_attempts: 4 },
});

try {
  const prompts = ['Say hi', 'Name a colour', 'Count to three'];
  const settled = await Promise.allSettled(
    prompts.map((prompt) => client.generate({ prompt, max_output_tokens: 30, operation: 'demo' })),
  );
  for (const [i, s] of settled.entries()) {
    if (s.status === 'fulfilled') {
      const r = s.value;
      console.log(`${prompts[i]} -> ${JSON.stringify(r.text.slice(0, 40))}`,
        `(${r.usage?.totalTokens} tokens, ${r.costNanoUsd ?? 'unknown'} nano-USD, ${r.attempts.length} attempt(s))`);
    } else if (s.reason instanceof RateLimitedError) {
      console.log(`${prompts[i]} -> still rate limited after ${s.reason.attempts.length} attempts`);
    } else if (s.reason instanceof LlmsvcError) {
      console.log(`${prompts[i]} -> ${s.reason.kind}: ${s.reason.message}`);
    } else {
      throw s.reason;
    }
  }

  const m = client.metrics();
  console.log(`requests: ${m.requests.succeeded} ok, ${m.requests.failed} failed;`,
    `tokens: ${m.usage.total.total_tokens}; cost: ${m.usage.total.cost_nano_usd} nano-USD`);
} finally {
  await client.close();
}
