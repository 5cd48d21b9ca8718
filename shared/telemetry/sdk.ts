import { hostname } from 'node:os';
import { tracingSettings } from '../config.ts';
import { markTracingStarted } from './tracing.ts';

/** Stops the SDK: the spans still buffered are sent first. */
let stop: (() => Promise<void>) | undefined;

/**
 * Starts OpenTelemetry tracing for this process when OTEL_EXPORTER_OTLP_ENDPOINT is set: a tracer
 * provider with an AsyncLocalStorage context, W3C trace-context propagation (into BullMQ jobs through
 * bullmq-otel, out of HTTP requests' `traceparent`), and a batch exporter over OTLP/HTTP (JSON) to
 * `<endpoint>/v1/traces`. The service is `arp-<program>` unless OTEL_SERVICE_NAME says otherwise. The exporter reads the other standard variables itself
 * (OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_BSP_*), and the sampler comes
 * from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: every trace, children follow their parent).
 *
 * Unset: nothing is loaded (the SDK modules are imported only here, on demand), nothing is started.
 * Each program calls this from its first import (apps/<program>/tracing.ts), before any other module
 * of ours runs. Returns whether tracing is on.
 */
export async function startTracing(program: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const settings = tracingSettings(env);
  if (!settings.OTEL_EXPORTER_OTLP_ENDPOINT || stop) return stop !== undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { detectResources, envDetector, resourceFromAttributes }, { BullMQOtel }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('bullmq-otel'),
  ]);
  const provider = new NodeTracerProvider({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over these.
    resource: resourceFromAttributes({
      'service.name': `arp-${program}`,
      'service.namespace': 'agent-research-pay',
      'service.instance.id': `${hostname()}:${process.pid}`,
      'process.pid': process.pid,
    }).merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  markTracingStarted(new BullMQOtel({ tracerName: 'bullmq' }));
  stop = () => provider.shutdown().catch(() => undefined);
  return true;
}

/** Sends what is buffered and stops tracing (a process's last step on shutdown); nothing when off. */
export async function stopTracing(): Promise<void> {
  await stop?.();
}
