import { afterAll, beforeAll, it } from 'vitest';
import { openHarness, postTask, type Harness } from '../../test/support/harness.ts';
let h: Harness;
beforeAll(async () => { h = await openHarness(); });
afterAll(async () => { await h?.close(); });
it('probe', async () => {
  const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => postTask(h, { theme: `t${i}`, budget: 5, voiceId: 'v' })));
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const r: any = await (await h.api(`/v1/tasks?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).json();
    seen.push(...r.data.map((t: any) => t.id));
    cursor = r.nextCursor; pages++;
  } while (cursor && pages < 50);
  console.log('created', ids.length, 'seen', seen.length, 'unique', new Set(seen).size, 'missing', ids.filter((i) => !seen.includes(i)).length);
  const rows = await h.database.db.selectFrom('tasks').select(['created_at']).execute();
  const r = await h.app.request('/admin/queues');
  console.log('www-auth', r.headers.get('www-authenticate'));
  for (const body of [{ theme: '😀'.repeat(500), budget: 5, voiceId: 'v' }, { theme: 'x', budget: 1e308, voiceId: 'v' }, { theme: 'x', budget: '1e3', voiceId: 'v' }, { theme: 'x', budget: 5, voiceId: 'v', maxCompanies: 1e400 }]) {
    const res = await h.api('/v1/tasks', { body });
    console.log(JSON.stringify(body).slice(0, 60), res.status, (await res.text()).slice(0, 200));
  }
  const big = await h.api('/v1/tasks', { body: '{"theme":"' + 'x'.repeat(70000) + '","budget":5,"voiceId":"v"}' });
  console.log('big', big.status);
  const raw = await h.api('/v1/tasks', { body: '{"theme":"x","budget":1e400,"voiceId":"v"}' });
  console.log('inf', raw.status, await raw.text());
  const zero = await h.api('/v1/tasks/00000000-0000-0000-0000-000000000000');
  console.log('nil', zero.status);
});
