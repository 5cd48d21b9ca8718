import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { instrumentClient } from './statements.ts';
import { tracedDialect } from './traced.ts';

/** An open database: the kysely handle and how it is served. */
export interface Db {
  db: Kysely<Database>;
  /** `postgres` serves many processes; `pglite` is embedded and serves this process only. */
  kind: 'postgres' | 'pglite';
  schema: string;
  close(): Promise<void>;
}

export interface DbOptions {
  databaseUrl?: string;
  schema: string;
  dataDir: string;
  /** Keep PGlite in memory (tests); otherwise it lives under dataDir/pglite. */
  inMemory?: boolean;
  poolSize?: number;
  /** Server settings for every session of the pool (`-c name=value`), beside the search path. */
  settings?: Record<string, string>;
}

const INT8 = 20;
const DATE = 1082;

/**
 * bigint columns hold fen well inside 2^53, so read them as numbers; dates stay 'YYYY-MM-DD' (PGlite
 * reads int8 as a number already; date columns are selected as text where they are read).
 */
function pgTypes() {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8) return (v: string) => Number(v);
      if (oid === DATE) return (v: string) => v;
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
}

/**
 * Opens Postgres when a URL is given, else embedded PGlite. Every session uses `schema` first on its
 * search path, so test files and systems can share one server without touching each other's tables.
 */
export async function openDatabase(opts: DbOptions): Promise<Db> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      options: [`-c search_path=${opts.schema}`, ...Object.entries(opts.settings ?? {}).map(([name, value]) => `-c ${name}=${value}`)].join(' '),
      types: pgTypes() as pg.CustomTypesConfig,
      connectionTimeoutMillis: 5_000,
    });
    // A client losing its server (Postgres restart, network cut) must not crash the process: idle
    // clients report to the pool, busy ones to themselves; their queries fail and the pool replaces them.
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      client.on('error', () => {});
      instrumentClient(client);
    });
    const db = new Kysely<Database>({ dialect: tracedDialect(new PostgresDialect({ pool })) });
    return { db, kind: 'postgres', schema: opts.schema, close: () => db.destroy() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  let dataDir: string | undefined;
  if (!opts.inMemory) {
    dataDir = join(opts.dataDir, 'pglite');
    mkdirSync(dataDir, { recursive: true });
  }
  const lite = new PGlite(dataDir);
  await lite.waitReady;
  const db = new Kysely<Database>({ dialect: tracedDialect(new PGliteDialect(lite)) });
  if (opts.schema !== 'public') await sql.raw(`set search_path to ${opts.schema}`).execute(db);
  return {
    db,
    kind: 'pglite',
    schema: opts.schema,
    close: async () => {
      await db.destroy();
      if (!lite.closed) await lite.close();
    },
  };
}
