import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './connect.ts';
import * as initial from './migrations/2026_11_24_001_initial.ts';
import * as taskSequence from './migrations/2026_11_24_002_task_sequence.ts';
import * as tokenHint from './migrations/2026_11_29_001_token_hint.ts';
import * as foreignCharges from './migrations/2026_11_29_002_foreign_charges.ts';
import * as tenants from './migrations/2026_11_29_010_tenants.ts';
import * as operatorAudit from './migrations/2026_11_29_011_operator_audit.ts';
import * as agentDecisions from './migrations/2026_11_29_020_agent_decisions.ts';
import * as modelCalls from './migrations/2026_11_29_021_model_calls.ts';
import * as memory from './migrations/2026_11_29_030_memory.ts';
import * as refundIntent from './migrations/2026_11_29_032_refund_intent.ts';
import * as taskEventSeq from './migrations/2026_11_29_040_task_event_seq.ts';
import * as webhooks from './migrations/2026_11_29_041_webhooks.ts';
import * as budgetUseWithMovement from './migrations/2026_11_29_050_budget_use_with_movement.ts';
import * as tasksHotUpdates from './migrations/2026_11_29_051_tasks_hot_updates.ts';
import * as paymentsHotUpdates from './migrations/2026_11_29_052_payments_hot_updates.ts';
import * as taskEventsKey from './migrations/2026_11_29_053_task_events_key.ts';

/** Every migration, by its frozen date-stamped name. New ones are appended here. */
const MIGRATIONS: Record<string, Migration> = {
  '2026_11_24_001_initial': initial,
  '2026_11_24_002_task_sequence': taskSequence,
  '2026_11_29_001_token_hint': tokenHint,
  '2026_11_29_002_foreign_charges': foreignCharges,
  '2026_11_29_010_tenants': tenants,
  '2026_11_29_011_operator_audit': operatorAudit,
  '2026_11_29_020_agent_decisions': agentDecisions,
  '2026_11_29_021_model_calls': modelCalls,
  '2026_11_29_030_memory': memory,
  '2026_11_29_032_refund_intent': refundIntent,
  '2026_11_29_040_task_event_seq': taskEventSeq,
  '2026_11_29_041_webhooks': webhooks,
  '2026_11_29_050_budget_use_with_movement': budgetUseWithMovement,
  '2026_11_29_051_tasks_hot_updates': tasksHotUpdates,
  '2026_11_29_052_payments_hot_updates': paymentsHotUpdates,
  '2026_11_29_053_task_events_key': taskEventsKey,
};

/** The names of every migration, in order. */
export const MIGRATION_NAMES = Object.keys(MIGRATIONS);

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Any fixed number: the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK = 7_242_024;

async function runMigrator(db: Kysely<any>, schema: string): Promise<void> {
  await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  const migrator = new Migrator({ db: lookingOnlyAt(db, schema), provider, migrationTableSchema: schema });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Creates the schema if needed and brings it to the latest migration. Safe when several processes
 * start at once: on Postgres all DDL happens under one advisory lock (kysely's own lock table could
 * itself race into existence).
 */
export async function migrate(database: Db): Promise<void> {
  if (database.kind === 'pglite') return runMigrator(database.db, database.schema);
  await database.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
    try {
      await runMigrator(conn, database.schema);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
    }
  });
}

/**
 * The database as kysely's migrator sees it, with its introspection narrowed to our schema. The
 * migrator asks whether its own tables exist by introspecting every column of every table of every
 * schema in the database: slow in a database many schemas share, and it fails outright ("schema … does
 * not exist") when any other schema is dropped meanwhile — by anyone, under our lock or not.
 */
function lookingOnlyAt(db: Kysely<any>, schema: string): Kysely<any> {
  const introspection = {
    getSchemas: async () => {
      const { rows } = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace where nspname = ${schema}`.execute(db);
      return rows;
    },
    getTables: async () => {
      const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = ${schema}`.execute(db);
      return rows.map((r) => ({ name: r.name, schema, isView: false, columns: [] }));
    },
    getMetadata: async () => ({ tables: await introspection.getTables() }),
  };
  // A proxy, not a subclass: kysely's methods use private fields, so they run on the real instance.
  return new Proxy(db, {
    get(target, key) {
      if (key === 'introspection') return introspection;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * True when the schema holds every migration this code knows (read-only tools refuse otherwise). A
 * plain read of kysely's migration table: the migrator's own check introspects every table of the
 * database and trips over a schema dropped meanwhile.
 */
export async function isMigrated(database: Db): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`select name from ${sql.id(database.schema, 'kysely_migration')}`.execute(database.db);
    const done = new Set(rows.map((r) => r.name));
    return MIGRATION_NAMES.every((name) => done.has(name));
  } catch (err) {
    if ((err as { code?: string }).code === '42P01' || /does not exist/.test((err as Error).message)) return false; // no migration table
    throw err;
  }
}

/** Drops a schema and everything in it (test and benchmark clean-up). */
export async function dropSchema(database: Db): Promise<void> {
  if (database.kind === 'pglite') return;
  await sql`drop schema if exists ${sql.id(database.schema)} cascade`.execute(database.db);
}
