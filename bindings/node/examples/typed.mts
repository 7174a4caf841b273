// The TypeScript view (ES module). Checked with `npm run typecheck`; compile it with tsc
// to run it.
import {
  Client,
  EventType,
  LlmsvcError,
  SchemaMismatchError,
  StatusError,
  ShutDownError,
  type Config,
  type DeploymentMetrics,
  type GenerateResponse,
  type JsonRequest,
  type LifecycleEvent,
  type MetricsSnapshot,
  type Message,
  type Request,
  type ResponseStream,
  type StreamPiece,
  type Tool,
  type ToolCall,
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

interface Pet {
  name: string;
  species: 'cat' | 'dog';
  age: number;
}

const petRequest: JsonRequest = {
  prompt: 'Invent a pet.',
  json_schema: {
    name: 'pet',
    schema: {
      type: 'object',
      properties: { name: { type: 'string' }, species: { enum: ['cat', 'dog'] }, age: { type: 'integer' } },
      required: ['name', 'species', 'age'],
      additionalProperties: false,
    },
  },
  reasoning_effort: 'low',
};

async function structured(client: Client): Promise<Pet | null> {
  try {
    const pet: Pet = await client.generateJSON<Pet>(petRequest);
    const r: GenerateResponse<Pet> = await client.generate<Pet>(petRequest);
    console.log(pet.name, r.json.species, r.usage?.estimated);
    return pet;
  } catch (err) {
    if (err instanceof SchemaMismatchError) {
      const where: string = err.pointer;
      console.error(err.keyword, where, err.output.length);
      return null;
    }
    throw err;
  }
}

async function streamed(client: Client, signal: AbortSignal): Promise<string> {
  const stream: ResponseStream = client.stream(
    {
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'Describe this picture.' },
        { type: 'image', data: 'iVBORw0KGgo=', media_type: 'image/png' },
      ] }],
      max_output_tokens: 200,
    },
    { signal },
  );
  let text = '';
  for await (const piece of stream) text += piece;
  const r: GenerateResponse = await stream.response;
  const first: number | null = r.timing.firstTokenMs;
  console.log(stream.id, first, r.usage?.cacheWriteTokens);
  return text;
}

export async function main(): Promise<void> {
  const client = new Client(config);
  try {
    const controller = new AbortController();
    const answers = await Promise.all(['great', 'awful'].map((t) => classify(client, t, controller.signal)));
    console.log(answers, await structured(client), await streamed(client, controller.signal));
    const chained = await client.generate({ prompt: 'And then?', previous_response_id: 'resp_1', stream: true });
    console.log(chained.responseId, chained.json);
    client.setLimits({ rpm: 1000 });
    const m: MetricsSnapshot = client.metrics();
    const byOp = m.usage.by_operation['classify'];
    console.log(m.requests.completed, m.gates.limits.rpm, byOp?.cost_nano_usd ?? null, m.first_token_ms.p50);
  } finally {
    await client[Symbol.asyncDispose]();
  }
}

// Two keys behind one client; a deployment taken out of rotation brought back.
export const pooled: Config = {
  model: 'gpt-4o-mini',
  api_keys: ['sk-a', 'sk-b'],
  routing: { strategy: 'least_loaded', fallbacks: { '*': ['gpt-4o'] } },
};

export function reenable(client: Client): DeploymentMetrics[] {
  const out = (client.metrics().deployments ?? []).filter((d) => !d.in_rotation);
  for (const d of out) client.setDeployment({ name: d.name, enabled: true });
  return out;
}

// Lifecycle events: retries and completions logged, then off.
export function watchRetries(client: Client): () => void {
  const seen: LifecycleEvent[] = [];
  client.onEvents(EventType.RETRY_SCHEDULED | EventType.COMPLETED, (e) => {
    seen.push(e);
    if (e.type === 'retry_scheduled') console.warn(e.request_id, e.cause, e.backoff_ms);
  }, { onError: (err, e) => console.error(err, e?.type) });
  client.onEvents(['queued', 'completed'], (e) => console.log(e.request, e.text), { withContent: true });
  return () => client.offEvents();
}

// A tool loop: typed tools, calls, pieces and messages.
const weatherTool: Tool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: true,
  },
};

export async function toolLoop(client: Client, question: string): Promise<string> {
  const messages: Message[] = [{ role: 'user', content: question }];
  for (let round = 0; round < 4; round++) {
    const stream: ResponseStream<unknown, StreamPiece> = client.streamPieces({
      tools: [weatherTool],
      tool_choice: round === 0 ? 'required' : 'auto',
      parallel_tool_calls: false,
      messages,
    });
    const started: string[] = [];
    for await (const piece of stream) {
      if (piece.kind === 'tool_call') started.push(`${piece.callId}:${piece.name}`); // strings here
      else if (piece.kind === 'tool_arguments') void piece.text.length;
      else process.stdout.write(piece.text);
    }
    const r: GenerateResponse = await stream.response;
    if (r.toolCalls.length === 0) return r.text;
    messages.push(r.toMessage());
    for (const call of r.toolCalls) {
      const c: ToolCall = call;
      const city = typeof c.argumentsJson?.['city'] === 'string' ? c.argumentsJson['city'] : '?';
      messages.push({ role: 'tool', tool_call_id: c.id, content: c.unknownTool ? 'unknown tool' : `18 C in ${city}` });
    }
  }
  throw new Error('too many rounds');
}

// The rest of the request surface and what the response carries back.
export async function surface(client: Client): Promise<void> {
  const r = await client.generate({
    prompt: 'say hi',
    n: 2,
    logprobs: true,
    top_logprobs: 2,
    service_tier: 'flex',
    frequency_penalty: 0.5,
    presence_penalty: -0.5,
    logit_bias: { '50256': -100 },
    response_format: { type: 'json_object' },
    prompt_cache_key: 'k1',
    extra_body: { store: false },
    extra_headers: { 'x-request-tag': 't1' },
  });
  console.log(r.choices?.map((c) => [c.index, c.finishReason, c.toolCalls.length]), r.logprobs?.length, r.serviceTier,
    r.usage?.cacheWrite1hTokens, r.usageUnreadable, r.json);
  const a = await client.generate({
    model: 'claude-haiku-4-5',
    max_output_tokens: 4000,
    top_k: 40,
    stop_sequences: ['END'],
    thinking: { type: 'enabled', budget_tokens: 2048 },
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'Long rules...', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: '...', signature: 'sig' }],
        tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18 C' },
    ],
    tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' }, cache_control: { type: 'ephemeral' } }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  console.log(a.thinking, a.thinkingSignature);
}

// What the declarations refuse (checked by tsc, never run).
export function refused(client: Client): void {
  // @ts-expect-error generateJSON needs a request with json_schema
  void client.generateJSON({ prompt: 'x' });
  // @ts-expect-error reasoning_effort is one of minimal, low, medium, high
  void client.generate({ prompt: 'x', reasoning_effort: 'max' });
  // @ts-expect-error audio is wav or mp3
  void client.generate({ messages: [{ role: 'user', content: [{ type: 'audio', data: '', format: 'ogg' }] }] });
  // @ts-expect-error setDeployment needs the deployment's name
  client.setDeployment({ enabled: true });
  // @ts-expect-error events are named as in the event documents
  client.onEvents(['retry'], () => {});
  // @ts-expect-error pieces are strings
  void (async () => { for await (const piece of client.stream('x')) piece.toFixed(); })();
  // @ts-expect-error a tool message answers a call: tool_call_id is required
  void client.generate({ messages: [{ role: 'tool', content: '18 C' }] });
  // @ts-expect-error tool_choice is auto, none, required or a named function
  void client.generate({ prompt: 'x', tools: [weatherTool], tool_choice: 'any' });
  // @ts-expect-error a tool needs its function's name
  void client.generate({ prompt: 'x', tools: [{ type: 'function', function: { description: 'no name' } }] });
  // @ts-expect-error only assistant messages carry tool calls
  void client.generate({ messages: [{ role: 'user', content: 'x', tool_calls: [] }] });
  void (async () => {
    for await (const piece of client.streamPieces('x')) {
      // @ts-expect-error callId is null unless the piece starts a tool call
      if (piece.kind === 'tool_arguments') piece.callId.length;
    }
  })();
}
