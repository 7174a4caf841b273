// The OpenTelemetry adapter (docs/telemetry.md): spans and metrics through the SDK the
// application configured, read back with the SDK's in-memory span exporter and a metric
// reader collected on demand.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { context, metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

import { AuthError, Client, StatusError } from 'llmsvc';
import { runNode, skipWithoutEmulator, startEmulator } from './emulator.mjs';

const KEY = 'sk-canary-otel-0123456789';
const PROMPT = 'Say hello. CANARY-PROMPT-42';
const BAD_KEY = 'sk-invalid-otel';
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const WAIT_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60];

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

class TestReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

/** A tracer provider with an in-memory exporter and a meter provider with a reader. */
function sdk() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    exporter,
    tracerProvider,
    meterProvider,
    tracer: tracerProvider.getTracer('test'),
    spans: () => exporter.getFinishedSpans(),
    /** The collected metrics by name: { descriptor, dataPointType, dataPoints }. */
    async metrics() {
      const { resourceMetrics, errors } = await reader.collect();
      assert.deepEqual(errors, []);
      const out = {};
      for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) out[m.descriptor.name] = m;
      return out;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Everything exported, as one string: every span with all its members, every metric point. */
async function serialized(o) {
  const spans = o.spans().map((s) => ({
    name: s.name, kind: s.kind, attributes: s.attributes, events: s.events, links: s.links, status: s.status,
    resource: s.resource.attributes, scope: s.instrumentationScope,
  }));
  return JSON.stringify({ spans, metrics: await o.metrics() });
}

const byName = (spans, name) => spans.filter((s) => s.name === name);
const parentOf = (s) => s.parentSpanContext?.spanId ?? s.parentSpanId;
const seconds = (hr) => hr[0] + hr[1] / 1e9;
const sortedPoints = (m, key) => [...m.dataPoints].sort((a, b) => String(a.attributes[key]).localeCompare(String(b.attributes[key])));

describe('OpenTelemetry adapter', { skip: skipWithoutEmulator }, () => {
  let emu;
  let port;
  before(async () => {
    emu = await startEmulator(['--rate-limit-first', '1', '--rate-limit-wait-ms', '20', '--invalid-keys', BAD_KEY]);
    port = Number(new URL(emu.url).port);
  });
  after(async () => { await emu?.stop(); });

  const config = (extra = {}) => ({ base_url: emu.baseURL, api_key: KEY, model: 'gpt-4o-mini', ...extra });

  test('a request retried after a 429: span tree, attributes, metrics; no content, no key', async () => {
    const o = sdk();
    const client = new Client(config(), { telemetry: { tracerProvider: o.tracerProvider, meterProvider: o.meterProvider } });
    try {
      const request = {
        prompt: PROMPT, max_output_tokens: 16, temperature: 0.5, top_p: 0.9, seed: 7, stop: ['END'],
        frequency_penalty: 0.1, presence_penalty: 0.2, operation: 'greet',
      };
      let parent;
      const r = await o.tracer.startActiveSpan('test parent', async (span) => {
        parent = span;
        try {
          return await client.generate(request);
        } finally {
          span.end();
        }
      });
      assert.equal(r.attempts.length, 2);
      assert.equal(r.provider, 'openai');
      assert.equal(r.serverAddress, '127.0.0.1');
      assert.equal(r.serverPort, port);
      assert.ok(r.timing.gateWaitMs >= 0);
      assert.ok(r.attempts.every((a) => a.gateWaitMs >= 0));

      const spans = o.spans();
      const [req] = byName(spans, 'chat gpt-4o-mini');
      assert.ok(req, `no request span among ${spans.map((s) => s.name)}`);
      const pc = parent.spanContext();
      assert.equal(req.kind, SpanKind.CLIENT);
      assert.equal(req.spanContext().traceId, pc.traceId);
      assert.equal(parentOf(req), pc.spanId);
      assert.equal(req.status.code, SpanStatusCode.UNSET);
      const a = req.attributes;
      assert.equal(a['gen_ai.operation.name'], 'chat');
      assert.equal(a['gen_ai.provider.name'], 'openai');
      assert.equal(a['gen_ai.request.model'], 'gpt-4o-mini');
      assert.equal(a['gen_ai.response.model'], r.responseModel);
      assert.equal(a['gen_ai.response.id'], r.responseId);
      assert.match(a['gen_ai.response.id'], /^chatcmpl-/);
      assert.deepEqual(a['gen_ai.response.finish_reasons'], [r.finishReason]);
      assert.equal(a['gen_ai.usage.input_tokens'], r.usage.promptTokens);
      assert.equal(a['gen_ai.usage.output_tokens'], r.usage.completionTokens);
      assert.equal(a['gen_ai.usage.cache_read.input_tokens'], 0);
      assert.equal(a['gen_ai.usage.reasoning.output_tokens'], 0);
      assert.equal(a['gen_ai.request.max_tokens'], 16);
      assert.equal(a['gen_ai.request.temperature'], 0.5);
      assert.equal(a['gen_ai.request.top_p'], 0.9);
      assert.equal(a['gen_ai.request.seed'], 7);
      assert.equal(a['gen_ai.request.frequency_penalty'], 0.1);
      assert.equal(a['gen_ai.request.presence_penalty'], 0.2);
      assert.deepEqual(a['gen_ai.request.stop_sequences'], ['END']);
      assert.equal(a['gen_ai.request.stream'], false);
      assert.equal(a['gen_ai.request.choice.count'], undefined);
      assert.equal(a['gen_ai.output.type'], undefined);
      assert.equal(a['server.address'], '127.0.0.1');
      assert.equal(a['server.port'], port);
      assert.equal(a['llmsvc.operation'], 'greet');
      assert.equal(a['llmsvc.attempts'], 2);
      assert.equal(a['llmsvc.gate.wait'], r.timing.gateWaitMs / 1e3);
      assert.equal(a['llmsvc.cost.nano_usd'], r.costNanoUsd);
      assert.ok(r.costNanoUsd > 0);
      assert.equal(a['error.type'], undefined);
      assert.equal(a['gen_ai.input.messages'], undefined);
      assert.equal(a['gen_ai.output.messages'], undefined);
      // From submit to completion: the core's total time.
      const total = seconds(req.duration);
      assert.ok(Math.abs(total - r.timing.totalMs / 1e3) < 1e-5, `${total} vs ${r.timing.totalMs} ms`);
      assert.ok(total >= 0.02, 'the request waited 20 ms for the retry');

      const posts = byName(spans, 'POST').sort((x, y) => seconds(x.startTime) - seconds(y.startTime));
      assert.equal(posts.length, 2);
      for (const s of posts) {
        assert.equal(s.kind, SpanKind.CLIENT);
        assert.equal(parentOf(s), req.spanContext().spanId);
        assert.equal(s.spanContext().traceId, pc.traceId);
        assert.equal(s.attributes['http.request.method'], 'POST');
        assert.equal(s.attributes['server.address'], '127.0.0.1');
        assert.equal(s.attributes['server.port'], port);
        assert.equal(typeof s.attributes['llmsvc.gate.wait'], 'number');
        assert.match(s.attributes['llmsvc.provider.request_id'], /^req_/);
        // Inside the request span.
        assert.ok(seconds(s.startTime) >= seconds(req.startTime) - 1e-6);
        assert.ok(seconds(s.endTime) <= seconds(req.endTime) + 1e-6);
      }
      const [first, second] = posts;
      assert.equal(first.attributes['http.response.status_code'], 429);
      assert.equal(first.attributes['error.type'], 'rate_limited');
      assert.equal(first.attributes['llmsvc.backoff.source'], 'retry_after');
      assert.ok(first.attributes['llmsvc.backoff'] > 0);
      assert.equal(first.attributes['http.request.resend_count'], undefined);
      assert.equal(first.status.code, SpanStatusCode.ERROR);
      assert.equal(second.attributes['http.response.status_code'], 200);
      assert.equal(second.attributes['http.request.resend_count'], 1);
      assert.equal(second.attributes['error.type'], undefined);
      assert.equal(second.attributes['llmsvc.backoff'], undefined);
      assert.equal(second.attributes['gen_ai.usage.input_tokens'], r.usage.promptTokens);
      assert.equal(second.attributes['gen_ai.usage.output_tokens'], r.usage.completionTokens);
      assert.equal(second.attributes['llmsvc.cost.nano_usd'], r.costNanoUsd);
      assert.notEqual(second.status.code, SpanStatusCode.ERROR);
      assert.ok(seconds(second.startTime) - seconds(first.endTime) >= 0.019, 'the backoff lies between the attempts');
      // Gate waits below 1 ms make no span; every span is one of these.
      const gates = byName(spans, 'llmsvc.gate.wait');
      assert.equal(gates.length, r.attempts.filter((x) => x.gateWaitMs >= 1).length);
      assert.equal(spans.length, 4 + gates.length);

      const m = await o.metrics();
      const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' };
      const full = { ...base, 'gen_ai.response.model': r.responseModel, 'server.address': '127.0.0.1', 'server.port': port };

      const duration = m['gen_ai.client.operation.duration'];
      assert.equal(duration.descriptor.unit, 's');
      assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
      assert.equal(duration.dataPoints.length, 1);
      assert.deepEqual(duration.dataPoints[0].attributes, full);
      assert.equal(duration.dataPoints[0].value.count, 1);
      assert.ok(Math.abs(duration.dataPoints[0].value.sum - r.timing.totalMs / 1e3) < 1e-6);
      assert.deepEqual(duration.dataPoints[0].value.buckets.boundaries, DURATION_BUCKETS);

      const tokens = m['gen_ai.client.token.usage'];
      assert.equal(tokens.descriptor.unit, '{token}');
      const [input, output] = sortedPoints(tokens, 'gen_ai.token.type');
      assert.deepEqual(input.attributes, { ...full, 'gen_ai.token.type': 'input' });
      assert.deepEqual(output.attributes, { ...full, 'gen_ai.token.type': 'output' });
      assert.equal(input.value.count, 1);
      assert.equal(input.value.sum, r.usage.promptTokens);
      assert.equal(output.value.sum, r.usage.completionTokens);
      assert.deepEqual(input.value.buckets.boundaries, TOKEN_BUCKETS);

      const attempts = m['llmsvc.client.attempts'];
      assert.equal(attempts.descriptor.unit, '{attempt}');
      assert.equal(attempts.dataPointType, DataPointType.SUM);
      const [ok, limited] = sortedPoints(attempts, 'http.response.status_code');
      assert.deepEqual(ok.attributes, { ...base, 'http.response.status_code': 200 });
      assert.equal(ok.value, 1);
      assert.deepEqual(limited.attributes, { ...base, 'http.response.status_code': 429, 'error.type': 'rate_limited' });
      assert.equal(limited.value, 1);

      const backoff = m['llmsvc.client.backoff'];
      assert.equal(backoff.descriptor.unit, 's');
      assert.equal(backoff.dataPoints.length, 1);
      assert.deepEqual(backoff.dataPoints[0].attributes, { ...base, 'llmsvc.backoff.source': 'retry_after' });
      assert.equal(backoff.dataPoints[0].value.count, 1);
      assert.ok(Math.abs(backoff.dataPoints[0].value.sum - r.attempts[0].backoffMs / 1e3) < 1e-9);
      assert.deepEqual(backoff.dataPoints[0].value.buckets.boundaries, WAIT_BUCKETS);

      const gateWait = m['llmsvc.client.gate.wait'];
      assert.equal(gateWait.descriptor.unit, 's');
      assert.deepEqual(gateWait.dataPoints[0].attributes, base);
      assert.equal(gateWait.dataPoints[0].value.count, 2);

      const cost = m['llmsvc.client.cost'];
      assert.equal(cost.descriptor.unit, '{nano_usd}');
      assert.deepEqual(cost.dataPoints[0].attributes, { ...base, 'llmsvc.operation': 'greet' });
      assert.equal(cost.dataPoints[0].value, r.costNanoUsd);

      assert.equal(m['gen_ai.client.operation.time_to_first_chunk'], undefined, 'not a stream');

      const all = await serialized(o);
      assert.ok(all.includes('chatcmpl-'), 'the serialization has the attributes');
      assert.ok(!all.includes(KEY), 'the API key was exported');
      assert.ok(!all.includes('CANARY-PROMPT-42'), 'the prompt was exported without content capture');
    } finally {
      await client.close();
      await o.shutdown();
    }
  });

  test('content capture (option or environment): the messages are recorded, the key never', async () => {
    for (const how of ['option', 'env']) {
      const o = sdk();
      const saved = process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT;
      const telemetry = { tracerProvider: o.tracerProvider, meterProvider: o.meterProvider };
      if (how === 'option') telemetry.captureMessageContent = true;
      else process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = 'true';
      let client;
      try {
        client = new Client(config(), { telemetry });
        const r = await client.generate({
          messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `${PROMPT} (${how})` }],
        });
        const [req] = byName(o.spans(), 'chat gpt-4o-mini');
        const input = JSON.parse(req.attributes['gen_ai.input.messages']);
        assert.deepEqual(input, [
          { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
          { role: 'user', parts: [{ type: 'text', content: `${PROMPT} (${how})` }] },
        ]);
        const output = JSON.parse(req.attributes['gen_ai.output.messages']);
        assert.deepEqual(output, [{ role: 'assistant', parts: [{ type: 'text', content: r.text }], finish_reason: r.finishReason }]);
        const all = await serialized(o);
        assert.ok(all.includes('CANARY-PROMPT-42'));
        assert.ok(!all.includes(KEY), 'the API key was exported');
      } finally {
        if (saved === undefined) delete process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT;
        else process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = saved;
        await client?.close();
        await o.shutdown();
      }
    }
  });

  test('the provider receives the request span\'s traceparent; a request\'s own one is kept', async () => {
    // A proxy in front of the emulator that records the trace headers of each attempt.
    const seen = [];
    const proxy = http.createServer(async (req, res) => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      seen.push({ traceparent: req.headers.traceparent, tracestate: req.headers.tracestate });
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      delete headers.connection;
      const up = await fetch(emu.url + req.url, { method: req.method, headers, body: Buffer.concat(chunks) });
      const out = {};
      up.headers.forEach((v, k) => { if (k !== 'content-length' && k !== 'transfer-encoding') out[k] = v; });
      res.writeHead(up.status, out);
      res.end(Buffer.from(await up.arrayBuffer()));
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const o = sdk();
    const client = new Client(config({ base_url: `http://127.0.0.1:${proxy.address().port}/v1` }),
      { telemetry: { tracerProvider: o.tracerProvider, meterProvider: o.meterProvider } });
    try {
      await o.tracer.startActiveSpan('test parent', async (span) => {
        await client.generate({ prompt: 'traceparent, please' });
        span.end();
      });
      const [req] = byName(o.spans(), 'chat gpt-4o-mini');
      const sc = req.spanContext();
      const expected = `00-${sc.traceId}-${sc.spanId}-01`;
      assert.equal(seen.length, 2); // the 429 and the retry
      for (const h of seen) assert.equal(h.traceparent, expected);

      // The request's own traceparent: sent as it is, and the parent when no span is current.
      seen.length = 0;
      o.exporter.reset();
      const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      await client.generate({ prompt: 'my own traceparent', traceparent: own, tracestate: 'vendor=1' });
      assert.deepEqual(seen.map((h) => h.traceparent), [own, own]);
      assert.deepEqual(seen.map((h) => h.tracestate), ['vendor=1', 'vendor=1']);
      const [mine] = byName(o.spans(), 'chat gpt-4o-mini');
      assert.equal(mine.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
      assert.equal(parentOf(mine), 'b7ad6b7169203331');

      // An explicit context names the parent, whatever is current.
      o.exporter.reset();
      const other = o.tracer.startSpan('explicit parent');
      await client.generate({ prompt: 'explicit context' }, { context: trace.setSpan(context.active(), other) });
      other.end();
      const [explicit] = byName(o.spans(), 'chat gpt-4o-mini');
      assert.equal(parentOf(explicit), other.spanContext().spanId);
      assert.equal(explicit.spanContext().traceId, other.spanContext().traceId);

      // A parent not sampled: no span is recorded (the SDK's parent-based sampler), the
      // metrics still are.
      o.exporter.reset();
      seen.length = 0;
      const unsampled = '00-0af7651916cd43dd8448eb211c80319d-b7ad6b7169203331-00';
      await client.generate({ prompt: 'not sampled', traceparent: unsampled });
      assert.deepEqual(o.spans(), []);
      assert.deepEqual(seen.map((h) => h.traceparent), [unsampled, unsampled]);
      const d = (await o.metrics())['gen_ai.client.operation.duration'].dataPoints;
      assert.equal(d.reduce((n, p) => n + p.value.count, 0), 4);
    } finally {
      await client.close();
      await o.shutdown();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  test('a failed request (auth): span status ERROR, error.type on the span and the duration metric', async () => {
    const o = sdk();
    const client = new Client(config({ api_key: BAD_KEY }),
      { telemetry: { tracerProvider: o.tracerProvider, meterProvider: o.meterProvider } });
    try {
      await assert.rejects(client.generate({ prompt: PROMPT }), AuthError);
      const [req] = byName(o.spans(), 'chat gpt-4o-mini');
      assert.equal(req.status.code, SpanStatusCode.ERROR);
      assert.match(req.status.message, /401/);
      assert.equal(req.attributes['error.type'], 'auth');
      assert.equal(req.attributes['gen_ai.provider.name'], 'openai');
      assert.equal(req.attributes['server.port'], port);
      assert.equal(req.attributes['gen_ai.response.id'], undefined);
      const [post] = byName(o.spans(), 'POST');
      assert.equal(post.attributes['http.response.status_code'], 401);
      assert.equal(post.attributes['error.type'], 'auth');
      assert.equal(post.status.code, SpanStatusCode.ERROR);
      const m = await o.metrics();
      const d = m['gen_ai.client.operation.duration'].dataPoints;
      assert.equal(d.length, 1);
      assert.deepEqual(d[0].attributes, {
        'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
        'server.address': '127.0.0.1', 'server.port': port, 'error.type': 'auth',
      });
      assert.equal(m['gen_ai.client.token.usage'], undefined);
      assert.equal(m['llmsvc.client.cost'], undefined);
      assert.deepEqual(m['llmsvc.client.attempts'].dataPoints.map((p) => p.attributes['error.type']), ['auth']);
      const all = await serialized(o);
      assert.ok(!all.includes(BAD_KEY) && !all.includes('CANARY-PROMPT-42'));

      // Refused at submit (StatusError): the span ends in error, nothing is measured.
      o.exporter.reset();
      await assert.rejects(client.generate({ prompt: 'x', temperature: 5 }), StatusError);
      const [refused] = o.spans();
      assert.equal(refused.status.code, SpanStatusCode.ERROR);
      assert.equal(refused.attributes['error.type'], 'LLMSVC_ESCHEMA');
    } finally {
      await client.close();
      await o.shutdown();
    }
  });

  test('a stream: one span over the whole stream, stream=true, time to first chunk; JSON output type', async () => {
    const o = sdk();
    const client = new Client(config(), { telemetry: { tracerProvider: o.tracerProvider, meterProvider: o.meterProvider } });
    try {
      const stream = client.stream({ prompt: 'stream me' });
      let text = '';
      for await (const piece of stream) text += piece;
      const r = await stream.response;
      assert.equal(text, r.text);
      const [req] = byName(o.spans(), 'chat gpt-4o-mini');
      assert.equal(req.attributes['gen_ai.request.stream'], true);
      assert.ok(r.timing.firstTokenMs > 0);
      assert.equal(req.attributes['gen_ai.response.time_to_first_chunk'], r.timing.firstTokenMs / 1e3);
      assert.ok(Math.abs(seconds(req.duration) - r.timing.totalMs / 1e3) < 1e-5);
      const m = await o.metrics();
      const ttfc = m['gen_ai.client.operation.time_to_first_chunk'];
      assert.equal(ttfc.descriptor.unit, 's');
      assert.equal(ttfc.dataPoints.length, 1);
      assert.equal(ttfc.dataPoints[0].value.count, 1);
      assert.equal(ttfc.dataPoints[0].attributes['gen_ai.response.model'], r.responseModel);
      assert.deepEqual(ttfc.dataPoints[0].value.buckets.boundaries, DURATION_BUCKETS);

      o.exporter.reset();
      await client.generate({
        prompt: 'structured', n: 1,
        json_schema: { name: 'pet', schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
      });
      const [json] = byName(o.spans(), 'chat gpt-4o-mini');
      assert.equal(json.attributes['gen_ai.output.type'], 'json');
      assert.equal(json.attributes['gen_ai.request.stream'], false);
      assert.equal(json.attributes['gen_ai.request.choice.count'], undefined);
    } finally {
      await client.close();
      await o.shutdown();
    }
  });

  test('the core\'s own exporter, turned on by OTEL_* variables, stays off for a client with the adapter', async () => {
    const saved = { ...process.env };
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = emu.url;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
    const captured = async () => (await fetch(`${emu.url}/_emulator/otlp`)).json();
    const o = sdk();
    try {
      const before = (await captured()).traces.length;
      const adapted = new Client(config(), { telemetry: { tracerProvider: o.tracerProvider, meterProvider: o.meterProvider } });
      try {
        await adapted.generate({ prompt: 'reported once' });
      } finally {
        await adapted.close();
      }
      assert.equal(byName(o.spans(), 'chat gpt-4o-mini').length, 1);
      assert.equal((await captured()).traces.length, before, 'the core sent nothing of its own');

      const plain = new Client(config()); // the variables alone turn the core's exporter on
      try {
        await plain.generate({ prompt: 'reported by the core' });
      } finally {
        await plain.close();
      }
      const got = await captured();
      assert.deepEqual(got.rejected, []);
      assert.ok(got.traces.length > before);
    } finally {
      process.env = saved;
      await o.shutdown();
    }
  });

  test('telemetry off: no spans and no metrics, even with global providers; telemetry: true uses them', async () => {
    const o = sdk();
    assert.ok(trace.setGlobalTracerProvider(o.tracerProvider));
    assert.ok(metrics.setGlobalMeterProvider(o.meterProvider));
    try {
      const off = new Client(config());
      try {
        await o.tracer.startActiveSpan('test parent', async (span) => {
          const r = await off.generate({ prompt: 'no telemetry' });
          assert.equal(r.attempts.length, 2);
          span.end();
        });
      } finally {
        await off.close();
      }
      assert.deepEqual(o.spans().map((s) => s.name), ['test parent']);
      assert.deepEqual(await o.metrics(), {});

      const on = new Client(config(), { telemetry: true });
      try {
        await on.generate({ prompt: 'global providers' });
      } finally {
        await on.close();
      }
      assert.equal(byName(o.spans(), 'chat gpt-4o-mini').length, 1);
      assert.equal((await o.metrics())['gen_ai.client.operation.duration'].dataPoints[0].value.count, 1);
    } finally {
      trace.disable();
      metrics.disable();
      await o.shutdown();
    }
  });
});

describe('OpenTelemetry adapter without @opentelemetry/api', () => {
  test('the binding works without the package; telemetry then fails with a clear error', async () => {
    // The package is hidden from require(); nothing of OpenTelemetry may load without telemetry.
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request.startsWith('@opentelemetry/')) throw Object.assign(new Error('hidden: ' + request), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const { Client } = require(${JSON.stringify(root)});
      (async () => {
        const client = new Client({ base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-x', model: 'gpt-4o-mini' });
        await client.generate({ prompt: 'x', timeout_ms: 50 }).catch((e) => e.kind);
        await client.close();
        const loaded = Object.keys(require.cache).filter((f) => f.includes('opentelemetry') || f.endsWith('telemetry.cjs'));
        let code = 'none';
        try { new Client({}, { telemetry: true }); } catch (e) { code = e.code; }
        console.log(JSON.stringify({ loaded, code }));
      })();`;
    const r = await runNode(['-e', script], 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { loaded: [], code: 'LLMSVC_OTEL_MISSING' });
  });
});
