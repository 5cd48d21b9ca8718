/**
 * The bench's Postgres: a database of its own on the server of DATABASE_URL (`bench_<id>`, dropped at
 * the end), so pg_stat_database's counters are the bench's alone, and what the server says about it:
 * counters, WAL (pg_stat_wal is cluster-wide; pg_walinspect lets the bench pick out its own records),
 * the backends serving it (for their CPU), table and index sizes.
 */
import pg from 'pg';

/** A client that counts the statements it sends (what the bench adds to its own database's counters). */
export class CountedClient {
  sent = 0;
  private constructor(readonly client: pg.Client, readonly pid: number) {}

  static async open(url: string): Promise<CountedClient> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    client.on('error', () => {});
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    return new CountedClient(client, rows[0]!.pid);
  }

  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    this.sent++;
    return (await this.client.query<R>(text, values)).rows;
  }

  close(): Promise<void> {
    return this.client.end().catch(() => undefined);
  }
}

export interface BenchDatabase {
  name: string;
  oid: number;
  /** DATABASE_URL with the bench's database in it: what the product's processes get. */
  url: string;
  /** A connection to DATABASE_URL's own database, to read the cluster's views without touching ours. */
  admin: CountedClient;
  /** A connection to ours (polls, checks, pg_walinspect). */
  own: CountedClient;
  drop(): Promise<void>;
}

/** Creates `bench_<id>` (with pg_walinspect when the server has it). */
export async function createBenchDatabase(databaseUrl: string, id: string): Promise<BenchDatabase> {
  const name = `bench_${id}`;
  const admin = await CountedClient.open(databaseUrl);
  await admin.query(`create database ${name}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  const oid = Number((await admin.query<{ oid: number }>('select oid from pg_database where datname = $1', [name]))[0]!.oid);
  const own = await CountedClient.open(url.toString());
  return {
    name,
    oid,
    url: url.toString(),
    admin,
    own,
    drop: async () => {
      await own.close();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.close();
    },
  };
}

/** Whether pg_walinspect can be used in our database (PG 15+, contrib installed, a superuser). */
export async function enableWalInspect(db: BenchDatabase): Promise<string | undefined> {
  try {
    await db.own.query('create extension if not exists pg_walinspect');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface DatabaseCounters {
  xactCommit: number;
  xactRollback: number;
  tupInserted: number;
  tupUpdated: number;
  tupDeleted: number;
  tupFetched: number;
}

/** pg_stat_database of our database. Backends publish these up to ~10 s late (PG15 pgstat: idle flush). */
export async function databaseCounters(db: BenchDatabase): Promise<DatabaseCounters> {
  const [r] = await db.admin.query<Record<string, string>>(
    'select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched from pg_stat_database where datname = $1',
    [db.name],
  );
  return {
    xactCommit: Number(r!.xact_commit),
    xactRollback: Number(r!.xact_rollback),
    tupInserted: Number(r!.tup_inserted),
    tupUpdated: Number(r!.tup_updated),
    tupDeleted: Number(r!.tup_deleted),
    tupFetched: Number(r!.tup_fetched),
  };
}

export interface WalCounters {
  records: number;
  bytes: number;
  writes: number;
  syncs: number;
}

/** pg_stat_wal: the whole cluster (every database, other users' too). */
export async function walCounters(db: BenchDatabase): Promise<WalCounters> {
  const [r] = await db.admin.query<Record<string, string>>('select wal_records, wal_bytes, wal_write, wal_sync from pg_stat_wal');
  return { records: Number(r!.wal_records), bytes: Number(r!.wal_bytes), writes: Number(r!.wal_write), syncs: Number(r!.wal_sync) };
}

/**
 * Keeps the server from recycling WAL from now on (a checkpoint during the window would otherwise remove
 * the segments pg_walinspect reads afterwards): a temporary physical replication slot of the bench's
 * admin session, gone with it even if the bench dies. Resolves with its release, or with why it could not.
 */
export async function holdWal(db: BenchDatabase): Promise<{ release: () => Promise<void> } | { failed: string }> {
  const slot = `${db.name}_wal`;
  try {
    await db.admin.query('select pg_create_physical_replication_slot($1, true, true)', [slot]);
  } catch (err) {
    return { failed: (err as Error).message };
  }
  return { release: async () => void (await db.admin.query('select pg_drop_replication_slot($1)', [slot]).catch(() => undefined)) };
}

export async function walInsertLsn(db: BenchDatabase): Promise<string> {
  return (await db.admin.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn'))[0]!.lsn;
}

/**
 * The WAL written so far, once it is on disk: pg_walinspect reads only flushed WAL, and records that wait
 * for no commit (another session's, a commit made with synchronous_commit off) reach the disk up to a few
 * WAL-writer rounds later. Gives up after `timeoutMs` and returns the flushed end reached.
 */
export async function walFlushedLsn(db: BenchDatabase, timeoutMs = 10_000): Promise<string> {
  const to = await walInsertLsn(db);
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 20))) {
    const [row] = await db.admin.query<{ flushed: string; done: boolean }>('select pg_current_wal_flush_lsn()::text as flushed, pg_current_wal_flush_lsn() >= $1::pg_lsn as done', [to]);
    if (row!.done) return to;
    if (Date.now() >= deadline) return row!.flushed;
  }
}

/** Backends serving our database, but the bench's own connections. */
export async function productBackends(db: BenchDatabase): Promise<number[]> {
  const rows = await db.admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> all($2::int[])', [db.name, [db.own.pid, db.admin.pid]]);
  return rows.map((r) => r.pid);
}

/** The server's own processes (WAL writer, checkpointer, background writer, autovacuum): shared by every database. */
export async function backgroundProcesses(db: BenchDatabase): Promise<Array<{ pid: number; type: string }>> {
  const rows = await db.admin.query<{ pid: number; backend_type: string }>("select pid, backend_type from pg_stat_activity where backend_type <> 'client backend'");
  return rows.map((r) => ({ pid: r.pid, type: r.backend_type }));
}

export interface OurWal {
  /** Bytes of the WAL records that touch our database, and the commit records of its transactions. */
  bytes: number;
  records: number;
  /** Commit records of transactions that wrote to our database: each one waited for a WAL flush. */
  commits: number;
  /** Heap row writes by table: inserts, non-HOT and HOT updates, deletes, row locks. */
  tables: Map<string, { insert: number; update: number; hotUpdate: number; delete: number; lock: number }>;
  /** Index entries inserted (B-tree leaf inserts), all indexes together. */
  indexInserts: number;
  /** Full-page images: bytes of them within `bytes`. */
  fpiBytes: number;
}

/**
 * Our database's share of the WAL written between two LSNs (pg_walinspect): the records whose blocks
 * are in our database, and the commit records of the transactions that wrote them. Exact whoever else
 * writes to the cluster meanwhile. Undefined when the records are no longer there (recycled) or the
 * extension is missing.
 */
export async function ourWal(db: BenchDatabase, fromLsn: string, toLsn: string): Promise<OurWal | undefined> {
  const ours = `' rel [0-9]+/${db.oid}/'`;
  const rows = await db.own.query<{ rm: string; type: string; rel: string | null; n: string; bytes: string; fpi: string }>(
    `with r as (select *, xid::text::bigint as x from pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)),
          x as (select distinct x from r where x <> 0 and block_ref ~ ${ours})
     select r.resource_manager as rm, r.record_type as type,
            substring(r.block_ref from 'rel [0-9]+/[0-9]+/([0-9]+)') as rel,
            count(*) as n, sum(r.record_length) as bytes, sum(r.fpi_length) as fpi
     from r
     where r.block_ref ~ ${ours} or (r.x <> 0 and r.x in (select x from x))
     group by 1, 2, 3`,
    [fromLsn, toLsn],
  );
  const names = new Map(
    // A TOAST table is named after the table whose long values it holds.
    (
      await db.own.query<{ node: string; name: string }>(
        `select c.relfilenode::text as node, coalesce(o.nspname || '.' || owner.relname || ' (TOAST)', n.nspname || '.' || c.relname) as name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         left join pg_class owner on owner.reltoastrelid = c.oid left join pg_namespace o on o.oid = owner.relnamespace
         where c.relfilenode <> 0`,
      )
    ).map((r) => [r.node, r.name]),
  );
  const out: OurWal = { bytes: 0, records: 0, commits: 0, tables: new Map(), indexInserts: 0, fpiBytes: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    out.bytes += Number(r.bytes);
    out.fpiBytes += Number(r.fpi);
    out.records += n;
    if (r.rm === 'Transaction' && r.type.startsWith('COMMIT')) out.commits += n;
    if (r.rm === 'Btree' && r.type.startsWith('INSERT')) out.indexInserts += n;
    if (r.rm === 'Heap' || r.rm === 'Heap2') {
      const name = names.get(r.rel ?? '') ?? `relfilenode ${r.rel}`;
      const t = out.tables.get(name) ?? { insert: 0, update: 0, hotUpdate: 0, delete: 0, lock: 0 };
      const type = r.type.replace(/\+INIT$/, '');
      if (type === 'INSERT' || type === 'MULTI_INSERT') t.insert += n;
      else if (type === 'UPDATE') t.update += n;
      else if (type === 'HOT_UPDATE') t.hotUpdate += n;
      else if (type === 'DELETE') t.delete += n;
      else if (type === 'LOCK') t.lock += n;
      else continue;
      out.tables.set(name, t);
    }
  }
  return out;
}

/** Table and index bytes of one schema of ours (TOAST counted with its table). */
export async function schemaSizes(db: BenchDatabase, schema: string): Promise<{ tables: number; indexes: number; byTable: Map<string, number> }> {
  const rows = await db.own.query<{ name: string; t: string; i: string }>(
    `select c.relname as name, pg_table_size(c.oid) as t, pg_indexes_size(c.oid) as i
     from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind = 'r'`,
    [schema],
  );
  const byTable = new Map(rows.map((r) => [r.name, Number(r.t) + Number(r.i)]));
  return { tables: rows.reduce((s, r) => s + Number(r.t), 0), indexes: rows.reduce((s, r) => s + Number(r.i), 0), byTable };
}
