import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import { dropSchema, isMigrated, migrate, openDatabase } from './index.ts';
import { MIGRATION_NAMES } from './migrate.ts';

const databaseUrl = inject('databaseUrl');

/** Several processes starting at once (gateway, workers) all migrate the same fresh schema. */
describe.skipIf(!databaseUrl)('migrations at start', () => {
  it('are safe when several start at once on a fresh schema, and leave it migrated once', async () => {
    const schema = `t_mig_${randomBytes(4).toString('hex')}`;
    const handles = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ databaseUrl, schema, dataDir: '/tmp', poolSize: 2 })));
    try {
      expect(await isMigrated(handles[0]!)).toBe(false);
      await Promise.all(handles.map((h) => migrate(h)));
      for (const h of handles) expect(await isMigrated(h)).toBe(true);
      const { rows } = await sql<{ name: string }>`select name from ${sql.id(schema)}.kysely_migration order by name`.execute(handles[0]!.db);
      expect(rows.map((r) => r.name)).toEqual(MIGRATION_NAMES);
      // And again, as every later start does: nothing to do, nothing breaks.
      await Promise.all(handles.map((h) => migrate(h)));
    } finally {
      await dropSchema(handles[0]!);
      await Promise.all(handles.map((h) => h.close()));
    }
  });
});
