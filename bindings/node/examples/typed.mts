// The TypeScript view (ES module). Checked with `npm run typecheck`; compile it with tsc
// to run it.
import {
  Client,
  LlmsvcError,
  StatusError,
  ShutDownError,
  type Config,
  type GenerateResponse,
  type MetricsSnapshot,
  type Request,
} from 'llmsvc';

const config: Config = {
  model: 'gpt-4o-mini',
  limits: { rpm: 500, tpm: 200_000 },
  retry: { max_attempts: 3, base_delay_ms: 250 },
  free_models: ['llama3.2'],
};

async function classify(client: Client, text: string, signal?: AbortSignal): Promise<string | null> {
  const request: Request = {
    instructions: 'Answer positive or negative.',
    messages: [{ role: 'user', content: text }],
    max_output_tokens: 5,
    operation: 'classify',
    metadata: { source: 'example' },
  };
  try {
    const r: GenerateResponse = await client.generate(request, { signal });
    const cost: number | null = r.costNanoUsd;
    console.log(r.id, r.usage?.promptTokens, cost, r.attempts.map((a) => a.httpStatus));
    return r.text;
  } catch (err) {
    if (err instanceof ShutDownError) return null;
    if (err instanceof LlmsvcError) {
      console.error(err.kind, err.httpStatus, err.providerMessage ?? err.message, err.attempts.length);
      return null;
    }
    if (err instanceof StatusError) console.error(err.code, err.op, err.message);
    throw err;
  }
}

export async function main(): Promise<void> {
  const client = new Client(config);
  try {
    const controller = new AbortController();
    const answers = await Promise.all(['great', 'awful'].map((t) => classify(client, t, controller.signal)));
    console.log(answers);
    client.setLimits({ rpm: 1000 });
    const m: MetricsSnapshot = client.metrics();
    const byOp = m.usage.by_operation['classify'];
    console.log(m.requests.completed, m.gates.limits.rpm, byOp?.cost_nano_usd ?? null);
  } finally {
    await client[Symbol.asyncDispose]();
  }
}
