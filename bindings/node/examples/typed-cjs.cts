// The TypeScript view from CommonJS.
import llmsvc = require('llmsvc');

export async function once(prompt: string): Promise<string> {
  const client = new llmsvc.Client({ model: 'gpt-4o-mini' });
  try {
    const r = await client.generate(prompt);
    const kinds: string[] = r.attempts.map((a: llmsvc.Attempt) => a.kind);
    console.log(kinds, llmsvc.coreVersion(), llmsvc.nativeStats().pendingEntries);
    return r.text;
  } catch (err) {
    if (err instanceof llmsvc.RateLimitedError) return `rate limited: ${err.retryAfterMs ?? 'no'} retry-after`;
    if (err instanceof llmsvc.CancelledError) return err.name; // "AbortError"
    throw err;
  } finally {
    await client.close();
  }
}

// Streaming from CommonJS.
export async function streamed(prompt: string): Promise<string> {
  const client = new llmsvc.Client({ provider: 'anthropic', model: 'claude-3-5-haiku-latest' });
  try {
    const stream: llmsvc.ResponseStream = client.stream(prompt);
    const pieces: string[] = [];
    for await (const piece of stream) pieces.push(piece);
    return pieces.join('');
  } catch (err) {
    if (err instanceof llmsvc.ServerError) return `broken stream: ${err.providerMessage ?? err.message}`;
    throw err;
  } finally {
    await client.close();
  }
}

// Typed pieces from CommonJS: the tool calls a streamed reply makes, as they begin.
export async function calls(prompt: string, tools: llmsvc.Tool[]): Promise<llmsvc.ToolCall[]> {
  const client = new llmsvc.Client({ model: 'gpt-4o-mini' });
  try {
    const stream = client.streamPieces({ prompt, tools });
    for await (const piece of stream) {
      if (piece.kind === 'tool_call') console.log(piece.index, piece.name, piece.callId);
    }
    return (await stream.response).toolCalls;
  } finally {
    await client.close();
  }
}
