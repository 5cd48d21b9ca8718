import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAuthorize } from '../../queues/authorize/processor.ts';
import type { StageDeps } from '../../queues/deps.ts';
import { processSearch } from '../../queues/search/processor.ts';
import { startWorkers, stopWorkers } from '../../queues/worker.ts';
import { redisConnection } from '../../queues/connection.ts';
import { createProviders } from '../../shared/providers/index.ts';
import { freePort } from '../../apps/start/redis.ts';
import { ISSUER_KEY, openHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * No parent waits forever: detail jobs that fail for good (every attempt spent, the marketplace gone)
 * still let their report parent run, and the report accounts for them.
 */
describe('the detail → report fan-in when children fail for good', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('runs the report once every child has ended, failed ones included, and completes the task', async () => {
    const res = await h.api('/v1/tasks', { body: { theme: 'logistics', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 2 } });
    const { id } = (await res.json()) as { id: string };
    const ctx = { attempt: 1, isFinalAttempt: false };
    await processSearch({ taskId: id }, h.deps, ctx);
    await processAuthorize({ taskId: id }, h.deps, ctx); // queues report-<id> with its detail children

    // The workers meet a marketplace that is gone: every detail attempt fails, transiently, until none is left.
    const gone = `http://127.0.0.1:${await freePort()}`;
    const deps: StageDeps = {
      ...h.deps,
      providers: createProviders({ marketplaceUrl: gone, tokenIssuerUrl: h.mocks.urls.tokenIssuer!, voiceIdUrl: h.mocks.urls.voiceid!, issuerApiKey: ISSUER_KEY, timeoutMs: 500 }),
    };
    const redis = redisConnection(h.config.REDIS_URL!, 'worker');
    const workers = startWorkers(['detail', 'report', 'dashboard'], deps, redis, {
      prefix: h.config.QUEUE_PREFIX,
      concurrency: { worker: 2, detail: 4 },
      backoff: { baseMs: 20, maxMs: 100 },
    });
    try {
      const task = await waitFor(async () => {
        const t = await h.repos.tasks.get(id);
        return t && t.status !== 'running' ? t : undefined;
      }, 'the task to end', 40_000);
      expect(task.status).toBe('completed');
      const failedJobs = (await h.producer.queues.detail.getFailed()).filter((j) => j.data.taskId === id);
      expect(failedJobs.length).toBe((await h.repos.companies.chosen(id)).length);
      for (const c of await h.repos.companies.chosen(id)) {
        expect(c.status).toBe('failed');
        expect(c.error_code).toBe('provider_unavailable');
      }
      expect(task.reserved).toBe(0);
      expect(task.captured).toBe(0);
      const token = (await h.deps.providers.issuer.tokensFor(id))[0]!;
      expect(token.status).toBe('closed');
      expect(token.charges).toEqual([]);
      expect((await h.repos.reports.get(id))!.markdown).toContain('## Not delivered');
    } finally {
      await stopWorkers(workers, 2_000);
      await redis.quit();
    }
  }, 60_000);
});
