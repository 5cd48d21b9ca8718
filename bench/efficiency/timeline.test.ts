import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowProducer, Queue, QueueEvents, Worker } from 'bullmq';
import { describe, expect, inject, it } from 'vitest';
import { redisConnection } from '../../queues/connection.ts';
import { jobId } from '../../queues/options.ts';
import { CountedClient } from './postgres.ts';
import { timelineOf, TIMELINE_STEPS } from './timeline.ts';

const databaseUrl = inject('databaseUrl');

/** The bench's timeline of a task alone reads each stage's times from the jobs BullMQ keeps. */
describe.skipIf(!databaseUrl)('the submit → report timeline', () => {
  it('puts each stage’s running time on its own step, and its steps add up to the whole', async () => {
    const id = randomBytes(3).toString('hex');
    const prefix = `tl-${id}`;
    const schema = `tl_${id}`;
    const taskId = randomUUID();
    const companies = ['c-1', 'c 2', 'c-3'];
    const db = await CountedClient.open(databaseUrl!);
    const producer = redisConnection(inject('redisUrl'), 'producer');
    const connection = redisConnection(inject('redisUrl'), 'worker');
    const queues = ['search', 'authorize', 'detail', 'report'].map((name) => new Queue(name, { connection: producer, prefix }));
    const flows = new FlowProducer({ connection: producer, prefix });
    const listener = redisConnection(inject('redisUrl'), 'worker');
    const events = new QueueEvents('report', { connection: listener, prefix });
    // Each stage runs for a known time: search 60 ms, authorize 40, each detail 50 (all three at once), report 30.
    const workers = [
      new Worker('search', async () => void (await sleep(60), await queues[1]!.add('authorize', {}, { jobId: jobId.authorize(taskId) })), { connection, prefix }),
      new Worker(
        'authorize',
        async () => {
          await sleep(40);
          await flows.add({
            name: 'report',
            queueName: 'report',
            opts: { jobId: jobId.report(taskId) },
            children: companies.map((c) => ({ name: 'detail', queueName: 'detail', opts: { jobId: jobId.detail(taskId, c) } })),
          });
        },
        { connection, prefix },
      ),
      new Worker('detail', () => sleep(50), { connection, prefix, concurrency: 3 }),
      new Worker('report', () => sleep(30), { connection, prefix }),
    ];
    try {
      await db.query(`create schema "${schema}"`);
      await db.query(`create table "${schema}".payments (task_id uuid, company_id text)`);
      await db.query(`insert into "${schema}".payments select $1, unnest($2::text[])`, [taskId, companies]);
      await events.waitUntilReady();
      const sent = Date.now();
      const reportDone = new Promise<void>((resolve) => events.on('completed', ({ jobId: done }) => done === jobId.report(taskId) && resolve()));
      await queues[0]!.add('search', {}, { jobId: jobId.search(taskId) });
      await reportDone;
      const ended = Date.now();
      const steps = await timelineOf({ taskId, sent, accepted: sent, ended, reported: ended + 7 }, { redis: producer, prefix, db, schema });

      expect(Object.keys(steps)).toEqual([...TIMELINE_STEPS]);
      expect(TIMELINE_STEPS.reduce((sum, step) => sum + steps[step], 0)).toBe(ended + 7 - sent);
      // Lower bounds are firm (a timer never fires early; BullMQ's times are whole ms); the upper ones leave room for a loaded machine.
      expect(steps.search).toBeGreaterThanOrEqual(59);
      expect(steps.authorize).toBeGreaterThanOrEqual(39);
      expect(steps['detail: first taken → last finished']).toBeGreaterThanOrEqual(49);
      expect(steps.report).toBeGreaterThanOrEqual(29);
      expect(steps['GET the report']).toBe(7);
      for (const step of ['search', 'authorize', 'report'] as const) expect(steps[step]).toBeLessThan(1_000);
      // Three details at once: the step is one detail's time, not three's, unless the machine stalled.
      expect(steps['detail: first taken → last finished']).toBeLessThan(1_000);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await events.close();
      await flows.close();
      for (const q of queues) await q.obliterate({ force: true }).catch(() => undefined);
      await Promise.all(queues.map((q) => q.close()));
      for (const r of [producer, connection, listener]) r.disconnect();
      await db.query(`drop schema if exists "${schema}" cascade`);
      await db.close();
    }
  });
});
