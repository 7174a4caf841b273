// OpenTelemetry: the spans and metrics of each request through the application's SDK
// (docs/telemetry.md). Checked with `npm run typecheck`; compile it with tsc to run it.
// Needs @opentelemetry/api, and an SDK (here @opentelemetry/sdk-trace-base and
// @opentelemetry/sdk-metrics, printing to the console).
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client, type ClientOptions, type GenerateResponse } from 'llmsvc';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] });
const meterProvider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })],
});

const options: ClientOptions = { telemetry: { tracerProvider, meterProvider, captureMessageContent: false } };
const client = new Client({ model: 'gpt-4o-mini' }, options);
const tracer = tracerProvider.getTracer('example');

// The request span is a child of the span current at the call...
const r: GenerateResponse = await tracer.startActiveSpan('handle job', async (span) => {
  try {
    return await client.generate('Say hi');
  } finally {
    span.end();
  }
});
console.log(r.text, r.provider, `${r.serverAddress}:${r.serverPort}`, r.timing.gateWaitMs, r.attempts.length);

// ... or of the one an explicit context names.
const job = tracer.startSpan('another job');
await client.generate('Say hi again', { context: trace.setSpan(context.active(), job) });
job.end();

await client.close();
await meterProvider.shutdown();
await tracerProvider.shutdown();
