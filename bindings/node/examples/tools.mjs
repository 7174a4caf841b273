// A tool loop: the model asks for a tool, the program runs it and sends the result back,
// the model answers (two rounds). Each round is streamed as typed pieces: text, a tool
// call's start (its id and name) and its arguments piece by piece; the response carries
// the assembled calls.
//
//   OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-... node examples/tools.mjs [PROVIDER]
//
// PROVIDER is openai_chat (default), openai_responses, anthropic (ANTHROPIC_BASE_URL,
// ANTHROPIC_API_KEY) or ollama (OLLAMA_HOST).
import process from 'node:process';

import { Client, LlmsvcError, StatusError } from 'llmsvc';

const provider = process.argv[2] ?? 'openai_chat';
const models = { anthropic: 'claude-haiku-4-5', ollama: 'llama3.2' };
const client = new Client({ provider, model: models[provider] ?? 'gpt-4o-mini' });

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];

// The program's side of each tool: a stand-in for a real lookup of args.city.
const implementations = {
  get_weather: (args) => (typeof args.city === 'string' ? '18 C and clear' : 'no city given'),
};

// A call's result, as the text of the tool message answering it. A call the program cannot
// run is answered too (the model may correct itself in the next round).
function run(call) {
  if (call.unknownTool || !(call.name in implementations)) return `unknown tool ${call.name}`;
  if (call.argumentsJson === null) return `invalid arguments: ${call.argumentsError}`;
  return implementations[call.name](call.argumentsJson);
}

const messages = [{ role: 'user', content: 'What is the weather in Paris? Use get_weather.' }];
const MAX_ROUNDS = 4;

try {
  for (let round = 1; ; round++) {
    console.log(`round ${round}`);
    const stream = client.streamPieces({ tools, messages, max_output_tokens: 300 });
    let inText = false;
    for await (const piece of stream) {
      if (piece.kind === 'text') {
        process.stdout.write(inText ? piece.text : `  text: ${piece.text}`);
        inText = true;
        continue;
      }
      if (inText) process.stdout.write('\n');
      inText = false;
      if (piece.kind === 'tool_call') console.log(`  call ${piece.index}: ${piece.name} (${piece.callId})`);
      else console.log(`  arguments ${piece.index}: ${piece.text}`);
    }
    if (inText) process.stdout.write('\n');
    const response = await stream.response;

    if (response.toolCalls.length === 0) {
      console.log(`answer: ${response.text} (${round} rounds, ${response.usage?.totalTokens ?? '?'} tokens in the last)`);
      break;
    }
    if (round === MAX_ROUNDS) throw new Error(`still calling tools after ${MAX_ROUNDS} rounds`);

    // The next round: the conversation so far, this reply (text, calls and, on Anthropic,
    // its signed thinking) and one tool message per call.
    messages.push(response.toMessage());
    for (const call of response.toolCalls) {
      const result = run(call);
      console.log(`  ${call.name}(${call.arguments}) -> ${result}`);
      messages.push({ role: 'tool', tool_call_id: call.id, content: result });
    }
  }
} catch (err) {
  // StatusError: the request was refused at submit (the message names the field);
  // LlmsvcError: it was sent and failed.
  if (err instanceof StatusError || err instanceof LlmsvcError) {
    console.error(`tools: ${err.code ?? err.kind}: ${err.message}`);
    process.exitCode = 1;
  } else {
    throw err;
  }
} finally {
  await client.close();
}
