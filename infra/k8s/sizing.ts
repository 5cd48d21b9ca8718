/**
 * Requests, limits and autoscaling bounds of each Deployment, from `npm run bench -- --latency 80`
 * (BENCHMARKS.md, "Sizing"; README, "Deploying"). Change them here and run `npm run k8s:generate`.
 *
 * Measured on the 2-core development machine (shared, so CPU figures are upper bounds):
 * - a detail worker process: ~200 MiB peak RSS at concurrency 8–16 (Node, the code loaded by tsx, its
 *   connections), and the CPU of its jobs (BENCHMARKS.md: CPU ms per detail job);
 * - the gateway process: ~180 MiB peak RSS taking tasks; a few ms of CPU per request.
 * Memory requests sit near the measured peak, limits leave room for a burst (a V8 heap grows before it
 * collects); CPU requests are what a pod uses at its target load, limits allow one full core (a Node
 * process uses at most one core for its JavaScript).
 */
import type { QueueName } from '../../queues/names.ts';

export interface Size {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

/** The gateway: fixed replicas (scale by CPU with an HPA of your own if you need more). */
export const GATEWAY = {
  replicas: 2,
  size: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } } satisfies Size,
};

export interface StageSizing {
  size: Size;
  /** KEDA bounds: at least one pod (it also runs the sweeper and retries delayed jobs), at most this many. */
  maxReplicas: number;
  /** KEDA's target: waiting jobs per pod (`listLength`): about what one pod finishes in 10 s. */
  waitingPerPod: number;
}

const small: Size = { requests: { cpu: '100m', memory: '224Mi' }, limits: { cpu: '1', memory: '448Mi' } };

/** Per stage. Detail does the paid fetches (I/O bound, DETAIL_CONCURRENCY jobs at once) and gets the most pods. */
export const STAGE_SIZING: Record<QueueName, StageSizing> = {
  search: { size: small, maxReplicas: 4, waitingPerPod: 50 },
  authorize: { size: small, maxReplicas: 4, waitingPerPod: 50 },
  detail: { size: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } }, maxReplicas: 20, waitingPerPod: 200 },
  report: { size: small, maxReplicas: 4, waitingPerPod: 50 },
  dashboard: { size: small, maxReplicas: 2, waitingPerPod: 500 },
  webhook: { size: small, maxReplicas: 4, waitingPerPod: 100 },
};

/** DETAIL_CONCURRENCY in the ConfigMap: where one process's throughput stops growing with it (BENCHMARKS.md). */
export const DETAIL_CONCURRENCY = 16;
