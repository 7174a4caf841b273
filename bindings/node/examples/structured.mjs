// Structured output: a JSON Schema for the reply; the core asks the provider for JSON in its
// own way, validates the document and returns it parsed. A document that does not match
// is asked for again (retry.schema_retries), then fails with SchemaMismatchError.
//
//   OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-... node examples/structured.mjs
import { Client, SchemaMismatchError } from 'llmsvc';

const client = new Client({ model: 'gpt-4o-mini' });

const pet = {
  name: 'pet',
  schema: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1 },
      species: { enum: ['cat', 'dog', 'rabbit'] },
      age: { type: 'integer', minimum: 0 },
    },
    required: ['name', 'species', 'age'],
    additionalProperties: false,
  },
};

try {
  const doc = await client.generateJSON({ prompt: 'Invent a pet.', json_schema: pet, max_output_tokens: 100 });
  console.log('pet:', doc);

  // The same through generate(): the document is response.json, with usage and cost.
  const r = await client.generate({ prompt: 'Invent another pet.', json_schema: pet });
  console.log('json:', r.json, `(${r.usage?.totalTokens} tokens, ${r.attempts.length} attempt(s))`);
} catch (err) {
  if (err instanceof SchemaMismatchError) {
    console.log(`no valid document: ${err.keyword} at ${err.pointer || '(root)'} in ${err.output}`);
  } else {
    throw err;
  }
} finally {
  await client.close();
}
