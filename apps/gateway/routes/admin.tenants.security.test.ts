import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest } from '../../../shared/tenants/api-key.ts';
import { admin, makeKey, WITH_OPERATOR } from '../../../test/support/admin.ts';
import { openHarness, postTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * Tenant isolation, extended to keys and policies (issue 8): a key opens its own tenant's tasks and no
 * other's; a tenant's key cannot be listed or revoked through another tenant's path; one tenant's
 * policy limits that tenant only. And a key is a secret: shown once, kept only as its digest, never
 * in a log line, an audit row or any other answer.
 */
describe('tenant isolation: keys and policies', () => {
  let h: Harness;
  const logLines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    h = await openHarness({ env: { ...WITH_OPERATOR, LOG_LEVEL: 'debug' }, logTo: sink });
  });
  afterAll(async () => h?.close());

  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const body = (theme: string, budget = '5.00') => ({ theme, budget, voiceId: 'demo-voice' });

  it("a stored key opens its own tenant's tasks only: another tenant's task is a 404, its list shows none of them", async () => {
    const north = await makeKey(h, 'north');
    const south = await makeKey(h, 'south');
    const northTask = await postTask(h, body('north theme'), as(north.key));
    const southTask = await postTask(h, body('south theme'), as(south.key));
    const acmeTask = await postTask(h, body('acme theme')); // the bootstrap key of acme

    expect((await h.api(`/v1/tasks/${northTask}`, { headers: as(north.key) })).status).toBe(200);
    for (const [key, foreign] of [[north.key, southTask], [north.key, acmeTask], [south.key, northTask]] as const) {
      for (const path of [`/v1/tasks/${foreign}`, `/v1/tasks/${foreign}/payments`, `/v1/tasks/${foreign}/usage`, `/v1/tasks/${foreign}/report`]) {
        await expectProblem(await h.api(path, { headers: as(key) }), 404, 'not_found');
      }
      await expectProblem(await h.api(`/v1/tasks/${foreign}/cancel`, { method: 'POST', headers: as(key) }), 404, 'not_found');
    }
    const listed = (await (await h.api('/v1/tasks', { headers: as(north.key) })).json()) as { data: Array<{ theme: string }> };
    expect(listed.data.map((t) => t.theme)).toEqual(['north theme']);
  });

  it("another tenant's key cannot be listed or revoked through this tenant's path, and keeps working", async () => {
    const theirs = await makeKey(h, 'west');
    await makeKey(h, 'east');
    await expectProblem(await admin(h, `/admin/tenants/east/keys/${theirs.id}`, { method: 'DELETE' }), 404, 'not_found');
    expect((await h.api('/v1/tasks', { headers: as(theirs.key) })).status).toBe(200);
    const eastList = (await (await admin(h, '/admin/tenants/east/keys')).json()) as { data: Array<{ id: string }> };
    expect(eastList.data.map((k) => k.id)).not.toContain(theirs.id);
    // Nothing was recorded for the refused revocation.
    const audit = await h.database.db.selectFrom('operator_audit').select('action').where('target', '=', theirs.id).execute();
    expect(audit.map((a) => a.action)).toEqual(['api_key.created']);
  });

  it("one tenant's policy limits that tenant only", async () => {
    const tight = await makeKey(h, 'tight');
    const loose = await makeKey(h, 'loose');
    expect((await admin(h, '/admin/tenants/tight/policy', { method: 'PUT', body: { maxBudget: '10.00', tasksPerMinute: 1, openTasks: 5 } })).status).toBe(200);
    await expectProblem(await h.api('/v1/tasks', { body: body('too big', '10.01'), headers: as(tight.key) }), 422, 'spending_limit_exceeded');
    expect((await h.api('/v1/tasks', { body: body('fits', '10.00'), headers: as(tight.key) })).status).toBe(202);
    await expectProblem(await h.api('/v1/tasks', { body: body('second this minute', '1.00'), headers: as(tight.key) }), 429, 'rate_limited');
    // The other tenant (and acme) run on the defaults.
    for (let i = 0; i < 3; i++) expect((await h.api('/v1/tasks', { body: body(`loose ${i}`, '500.00'), headers: as(loose.key) })).status).toBe(202);
    expect((await h.api('/v1/tasks', { body: body('acme', '500.00') })).status).toBe(202);
    const loosePolicy = (await (await admin(h, '/admin/tenants/loose/policy')).json()) as any;
    expect(loosePolicy.overrides).toEqual({});
    expect(loosePolicy.maxBudget).toBeNull();
  });

  it('a key is kept only as its digest and appears in no log line, audit row or later answer', async () => {
    const made = await makeKey(h, 'secretive', 'do not leak');
    await h.api('/v1/tasks', { headers: as(made.key) });
    await admin(h, `/admin/tenants/secretive/keys/${made.id}`, { method: 'DELETE' });
    await h.api('/v1/tasks', { headers: as(made.key) }); // refused now: its error must not quote it either
    const stored = await sql<Record<string, unknown>>`select * from api_keys where id = ${made.id}`.execute(h.database.db);
    expect(JSON.stringify(stored.rows)).not.toContain(made.key);
    expect(stored.rows[0]!.key_digest).toBe(keyDigest(made.key));
    const secretPart = made.key.slice(4);
    const places: Array<[string, string]> = [
      ['log', logLines.join('\n')],
      ['audit', JSON.stringify(await h.database.db.selectFrom('operator_audit').selectAll().execute())],
      ['audit API', await (await admin(h, '/admin/audit?limit=1000')).text()],
      ['key list', await (await admin(h, '/admin/tenants/secretive/keys')).text()],
      ['policy', await (await admin(h, '/admin/tenants/secretive/policy')).text()],
    ];
    expect(logLines.length).toBeGreaterThan(0);
    for (const [where, text] of places) {
      expect(text, where).not.toContain(secretPart);
      expect(text, where).not.toContain(secretPart.slice(0, 16));
    }
  });
});
