import pg from 'pg';
import { it } from 'vitest';
import { openHarness, postTask, waitForEnd } from './test/support/harness.ts';

it('anatomy', async () => {
  const h = await openHarness({ workers: 'all' });
  const warm = await postTask(h, { theme: 'battery', budget: '50.00', maxCompanies: 3, voiceId: 'demo-voice' });
  await waitForEnd(h, warm);
  await new Promise((r) => setTimeout(r, 500));
  const log: string[] = [];
  const raw = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await raw.connect();
  const jobsBefore = await h.redis.keys(`${h.config.QUEUE_PREFIX}:*`);
  (globalThis as any).__sqlLog = log;
  const res = await h.app.request('/v1/tasks', { method: 'POST', headers: { authorization: 'Bearer test-key', 'content-type': 'application/json' }, body: JSON.stringify({ theme: 'semiconductor', budget: '50.00', maxCompanies: 3, voiceId: 'demo-voice' }) });
  const id = ((await res.json()) as any).id;
  for (let i = 0; i < 200; i++) {
    const r = await raw.query(`select status from ${h.config.DATABASE_SCHEMA}.tasks where id = $1`, [id]);
    if (r.rows[0].status !== 'running' && r.rows[0].status !== 'queued') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1500));
  (globalThis as any).__sqlLog = undefined;
  const r = await raw.query(`select count(*) from ${h.config.DATABASE_SCHEMA}.companies where task_id = $1 and status = 'bought'`, [id]);
  await raw.end();
  console.log(log.map((l, i) => `${i} ${l}`).join('\n'));
  const q = log.filter((l) => !/^\s*(begin|commit|rollback)/i.test(l));
  console.log('TOTAL', log.length, 'queries', q.length, 'commits', log.filter((l) => /^commit/i.test(l.trim())).length, 'bought', r.rows[0].count);
  await h.close();
}, 60_000);
