import { createRequire } from 'node:module';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../apps/gateway/metrics.ts';
import type { GatewayDeps } from '../../apps/gateway/deps.ts';
import { workerHttpApp, type WorkerHttpDeps } from '../../apps/runtime/worker-http.ts';
import { collectProcessMetrics, EVENT_LOOP_SAMPLE_MS } from './process-metrics.ts';

// prom-client reads the event-loop monitor off Node's perf_hooks module when it starts one: the same object.
const perfHooks = createRequire(import.meta.url)('node:perf_hooks') as typeof import('node:perf_hooks');

/** An idle process must stay idle: Node's metrics do not wake it a hundred times a second. */
describe('process metrics', () => {
  afterEach(() => vi.restoreAllMocks());
  const monitorResolutions = () => {
    const spy = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    return () => spy.mock.calls.map(([options]) => options?.resolution);
  };

  it('sample the event loop every EVENT_LOOP_SAMPLE_MS (100 ms), not every 10 ms, and still report its lag', async () => {
    const resolutions = monitorResolutions();
    const registry = new Registry();
    collectProcessMetrics(registry);
    expect(EVENT_LOOP_SAMPLE_MS).toBe(100);
    expect(resolutions()).toEqual([100]);
    const text = await registry.metrics();
    expect(text).toContain('arp_nodejs_eventloop_lag_p99_seconds');
    expect(text).toContain('arp_process_resident_memory_bytes');
  });

  it('are collected that way by the gateway and by every worker process', () => {
    const resolutions = monitorResolutions();
    createMetrics({} as GatewayDeps);
    workerHttpApp({} as WorkerHttpDeps);
    expect(resolutions()).toEqual([EVENT_LOOP_SAMPLE_MS, EVENT_LOOP_SAMPLE_MS]);
  });
});
