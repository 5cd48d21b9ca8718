/**
 * Requests, limits and autoscaling bounds of each Deployment, from `npm run bench -- --latency 80`
 * (BENCHMARKS.md, "Sizing"; README, "Deploying"). Change them here and run `npm run k8s:generate`.
 *
 * Measured on the 2-core development machine (shared, load average 8–13, so CPU figures are upper bounds):
 * - a detail worker process: 190–200 MiB peak RSS at concurrency 1–16, 226 MiB at 32 (Node, the code
 *   loaded by tsx, its connections); 26–63 ms of CPU per detail job; at DETAIL_CONCURRENCY 16 with
 *   providers answering in 80 ms it did 13–21 jobs/s on 0.36–0.63 of a core, and neither more concurrency
 *   nor a second process did better there (Postgres commits were the limit; BENCHMARKS.md, "Sizing");
 * - the other stages together (search, authorize, report, dashboard, webhook in one process, with the
 *   provider stand-ins) used under half a core while detail ran at ~21 jobs/s (~4 tasks/s);
 * - the gateway process: 172–178 MiB peak RSS, 21–24 ms of CPU per task it takes.
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
  /** KEDA's target: waiting jobs per pod (`listLength`): about what one pod finishes in 10 s (detail: ~15 jobs/s). */
  waitingPerPod: number;
}

const small: Size = { requests: { cpu: '100m', memory: '224Mi' }, limits: { cpu: '1', memory: '448Mi' } };

/** Per stage. Detail does the paid fetches (I/O bound, DETAIL_CONCURRENCY jobs at once) and gets the most pods. */
export const STAGE_SIZING: Record<QueueName, StageSizing> = {
  search: { size: small, maxReplicas: 4, waitingPerPod: 50 },
  authorize: { size: small, maxReplicas: 4, waitingPerPod: 50 },
  detail: { size: { requests: { cpu: '650m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } }, maxReplicas: 20, waitingPerPod: 150 },
  report: { size: small, maxReplicas: 4, waitingPerPod: 50 },
  dashboard: { size: small, maxReplicas: 2, waitingPerPod: 500 },
  webhook: { size: small, maxReplicas: 4, waitingPerPod: 100 },
};

/** DETAIL_CONCURRENCY in the ConfigMap: where one process's throughput stops growing with it (BENCHMARKS.md). */
export const DETAIL_CONCURRENCY = 16;
