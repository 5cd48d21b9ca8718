import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * How often Node's event-loop lag is sampled (ms). prom-client's default, 10 ms, is a timer that wakes an
 * idle process a hundred times a second: measured, ~7 ms of CPU a second per process on our 2-core
 * machine, most of an idle worker's cost (seven idle processes of the split layout: ~50 core-ms/s). At
 * 100 ms a lag longer than the alert's 0.2 s (README, Operations) is still always seen, at a tenth of that.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Node's own metrics (memory, GC, handles, event-loop lag) of this process, into `registry`, named `arp_…`. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'arp_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
