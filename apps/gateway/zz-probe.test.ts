import { afterAll, beforeAll, it } from 'vitest';
import { openHarness, type Harness } from '../../test/support/harness.ts';
let h: Harness;
beforeAll(async () => { h = await openHarness(); });
afterAll(async () => { await h?.close(); });
const basic = { authorization: 'Basic ' + Buffer.from('admin:test-admin').toString('base64') };
it('probe', async () => {
  const show = async (label: string, r: Response) => console.log(label, r.status, r.headers.get('content-type'), r.headers.get('location'), (await r.text()).slice(0, 1500));
  await show('unknown', await h.api('/v1/tasks', { body: { theme: 'x', budget: 5, voiceId: 'v', colour: 'red' } }));
  await show('missing', await h.api('/v1/tasks', { body: { theme: 'x', budget: 5 } }));
  await show('array', await h.api('/v1/tasks', { body: [1] }));
  await show('nul', await h.api('/v1/tasks', { body: { theme: 'a\u0000b', budget: 5, voiceId: 'v' } }));
  await show('badcursor', await h.api('/v1/tasks?cursor=' + Buffer.from('-200000-01-01T00:00:00.000Z|6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d').toString('base64url')));
  await show('board', await h.app.request('/admin/queues', { headers: basic }));
  await show('board/', await h.app.request('/admin/queues/', { headers: basic }));
  await show('boardapi', await h.app.request('/admin/queues/api/queues', { headers: basic }));
  await show('boardnoauth', await h.app.request('/admin/queues'));
  await show('noauth', await h.app.request('/v1/tasks'));
});
