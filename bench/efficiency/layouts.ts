/**
 * The two ways to deploy the product that the bench compares:
 * - `split`: the gateway and one worker process per stage (QUEUE_NAMES), as the Kubernetes manifests run them;
 * - `one`: `npm start`'s program (apps/start): the gateway and every stage in one process.
 * Every process serves its metrics: the workers and apps/start on WORKER_HTTP_PORT (no login, no queries),
 * the split gateway on its own /metrics (admin login; a scrape reads the queues and the books once).
 * The sweeper is off (a periodic cost, not a per-task one).
 */
import { freePort } from '../../apps/start/redis.ts';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { chooseRunner, programArgs, startProgram, type App, type Program, type Runner } from './programs.ts';

export type LayoutKind = 'split' | 'one';

export interface RunningProcess {
  name: string;
  program: Program;
  metricsUrl: string;
  authorization?: string;
}

export interface Layout {
  kind: LayoutKind;
  /** Whether its programs ran from the build or from the sources. */
  runner: Runner;
  /** The gateway's base URL. */
  base: string;
  processes: RunningProcess[];
  stop(): Promise<void>;
}

export const LAYOUT_TITLE: Record<LayoutKind, string> = {
  split: `split processes (gateway + one worker process per stage: ${QUEUE_NAMES.join(', ')})`,
  one: 'one process (apps/start: gateway + every stage)',
};

/** The programs each layout runs. */
const APPS: Record<LayoutKind, App[]> = { split: ['gateway', 'worker'], one: ['start'] };

/** Starts a layout; on failure stops what did start. `env` holds what every process shares. */
export async function startLayout(kind: LayoutKind, forceTsx: boolean, env: NodeJS.ProcessEnv, admin: { user: string; password: string }): Promise<Layout> {
  const runner = chooseRunner(forceTsx, APPS[kind]);
  const started: RunningProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.program.stop()));
  };
  try {
    if (kind === 'one') {
      const [port, http] = [await freePort(), await freePort()];
      const at = `http://127.0.0.1:${http}`;
      // Its worker port is served last, once the gateway and every stage run.
      const program = await startProgram('start', programArgs(runner, 'start'), { ...env, PORT: String(port), HOST: '127.0.0.1', WORKER_HTTP_PORT: String(http), SWEEP_INTERVAL_MS: '0' }, `${at}/readyz`);
      started.push({ name: 'start (all)', program, metricsUrl: `${at}/metrics` });
      return { kind, runner, base: `http://127.0.0.1:${port}`, processes: started, stop };
    }
    // The gateway first: it migrates the schema before the workers look at it.
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gateway = await startProgram('gateway', programArgs(runner, 'gateway'), { ...env, PORT: String(port), HOST: '127.0.0.1', ADMIN_USER: admin.user, ADMIN_PASSWORD: admin.password }, `${base}/readyz`);
    started.push({ name: 'gateway', program: gateway, metricsUrl: `${base}/metrics`, authorization: `Basic ${Buffer.from(`${admin.user}:${admin.password}`).toString('base64')}` });
    const ports: number[] = [];
    for (const _ of QUEUE_NAMES) ports.push(await freePort());
    const workers = await Promise.allSettled(
      QUEUE_NAMES.map((stage, i) => startProgram(`worker ${stage}`, [...programArgs(runner, 'worker'), stage, '--no-sweeper'], { ...env, WORKER_HTTP_PORT: String(ports[i]) }, `http://127.0.0.1:${ports[i]}/readyz`)),
    );
    for (const [i, w] of workers.entries()) {
      if (w.status === 'fulfilled') started.push({ name: `worker ${QUEUE_NAMES[i]}`, program: w.value, metricsUrl: `http://127.0.0.1:${ports[i]}/metrics` });
    }
    for (const w of workers) if (w.status === 'rejected') throw w.reason;
    return { kind, runner, base, processes: started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
