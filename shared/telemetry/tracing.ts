import { context, isSpanContextValid, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { Telemetry } from 'bullmq';

export { SpanKind, SpanStatusCode, type Attributes, type Span };

/**
 * Tracing as the code uses it, over the OpenTelemetry API only. The SDK (shared/telemetry/sdk.ts) is
 * started by each program's first import when OTEL_EXPORTER_OTLP_ENDPOINT is set; until then every
 * helper here is a plain call with no span, no context and no allocation beyond a boolean test, so a
 * process without tracing pays nothing for it.
 *
 * What goes on a span is chosen here and by the callers: task id, stage, company id, tenant, money
 * moved, provider and route templates. Never a URL with its path or query (a token id travels in
 * one), a header, a body, a token id, a receipt or a key.
 */

let state: { queues?: Telemetry } | undefined;

/** Set by the SDK once it is registered: from then on spans are recorded and exported. */
export function markTracingStarted(queues: Telemetry | undefined): void {
  state = { queues };
}

/** Whether this process records spans (OTEL_EXPORTER_OTLP_ENDPOINT was set at start). */
export function tracingOn(): boolean {
  return state !== undefined;
}

/** BullMQ's telemetry option (bullmq-otel) for every Queue, Worker and FlowProducer; undefined when tracing is off. */
export function queueTelemetry(): Telemetry | undefined {
  return state?.queues;
}

export const tracer = trace.getTracer('agent-research-pay');

/** Attribute names of our own, in one place. */
export const ATTR = {
  taskId: 'arp.task.id',
  stage: 'arp.stage',
  companyId: 'arp.company.id',
  tenant: 'arp.tenant',
  attempt: 'arp.job.attempt',
  ledgerEntryId: 'arp.ledger_entry.id',
  provider: 'arp.provider',
  providerCode: 'arp.provider.code',
  moneyKind: 'arp.money.kind',
  moneyFen: 'arp.money.amount_fen',
  moneyAmount: 'arp.money.amount',
  moneyCurrency: 'arp.money.currency',
} as const;

/**
 * Runs `fn` in a new span (a child of the active one) and ends it; an exception marks the span as an
 * error (its message only: messages here never carry secrets, see shared/errors.ts) and is rethrown.
 * `fn` gets the span, or undefined when tracing is off (then it is called as it is, nothing else).
 */
export async function inSpan<T>(name: string, opts: { kind?: SpanKind; attributes?: Attributes }, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!state) return fn(undefined);
  return tracer.startActiveSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span as failed with an error's name and message (no stack: it would only add noise). */
export function failSpan(span: Span, err: unknown): void {
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & { code?: unknown };
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
  span.setAttribute('error.type', typeof e.code === 'string' ? e.code : e.name);
}

/** The span this code runs under, when tracing is on and there is one. */
export function activeSpan(): Span | undefined {
  return state ? trace.getActiveSpan() : undefined;
}

/** Adds attributes to the active span (the stage job's, the HTTP request's); nothing when tracing is off. */
export function annotate(attributes: Attributes): void {
  activeSpan()?.setAttributes(attributes);
}

/** The ids of the active span, for log lines; undefined when tracing is off or no span is active. */
export function traceIds(): { trace_id: string; span_id: string } | undefined {
  if (!state) return undefined;
  const span = trace.getSpan(context.active());
  const ctx = span?.spanContext();
  return ctx && isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : undefined;
}
