// CommonJS, with an AbortSignal: a request that takes longer than 2 s is cancelled in the
// core (whether it waits at a gate, waits to retry or is in flight).
//
//   OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-... node examples/abort.cjs
'use strict';

const { Client, CancelledError, StatusError } = require('llmsvc');

async function main() {
  const client = new Client({ model: 'gpt-4o-mini' });
  try {
    const r = await client.generate('Write a haiku about queues', { signal: AbortSignal.timeout(2000) });
    console.log(r.text);
  } catch (err) {
    if (err instanceof CancelledError) console.log('gave up after 2 s:', err.cause?.name);
    else if (err instanceof StatusError) console.log(`refused (${err.code}): ${err.message}`);
    else throw err;
  } finally {
    await client.close();
  }
}

main();
