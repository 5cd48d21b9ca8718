/**
 * What every measurement of a run shares: the bench's Redis and database, the product's programs, the
 * provider stand-ins of one layout, the tenants' keys, and the books check.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { startMocks, type RunningMocks } from '../../mocks/index.ts';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { loadConfig } from '../../shared/config.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';
import { openDatabase, repositories } from '../../shared/db/index.ts';
import { IssuerClient } from '../../shared/providers/issuer.ts';
import type { Tenants } from './load.ts';
import type { BenchDatabase } from './postgres.ts';
import type { BenchRedis } from './redis.ts';

export const ISSUER_KEY = 'bench-issuer-key';

export interface Bench {
  runId: string;
  /** Run the programs from the sources even when they are built. */
  forceTsx: boolean;
  redis: BenchRedis;
  /** The bench's own connection to that Redis (INFO, queue polls), and the commands it sent there. */
  probe: Redis;
  own: Map<string, number>;
  db: BenchDatabase;
  /** Why pg_walinspect cannot be used, when it cannot. */
  noWalInspect?: string;
  /** A directory of the bench's own (API keys file, DATA_DIR), removed at the end. */
  dir: string;
  admin: { user: string; password: string };
  concurrency: { worker: number; detail: number };
  logLevel: string;
}

/** A scratch directory, removed by the returned function. */
export function scratchDir(): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'arp-bench-'));
  return { dir, remove: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** The provider stand-ins of one layout (its own issuer, so its books reconcile against its own charges), answering at once. */
export function providerStandIns(runId: string): Promise<RunningMocks> {
  return startMocks({ only: ['tokenIssuer', 'marketplace', 'voiceid'], issuerApiKey: ISSUER_KEY, receiptSecret: `bench-${runId}`, voiceEnrolled: ['demo-voice'], faults: {} });
}

/** What the product's processes of one layout get: shared services, its schema and queue prefix, the stand-ins, the keys. */
export function layoutEnv(bench: Bench, schema: string, mocks: RunningMocks, tenants: Tenants[]): NodeJS.ProcessEnv {
  const keysFile = join(bench.dir, `api-keys-${schema}`);
  writeFileSync(keysFile, tenants.flatMap((t) => t.lines()).join(','), { mode: 0o600 });
  return {
    REDIS_URL: bench.redis.url,
    DATABASE_URL: bench.db.url,
    DATABASE_SCHEMA: schema,
    QUEUE_PREFIX: queuePrefixOf(bench, schema),
    MARKETPLACE_URL: mocks.urls.marketplace,
    TOKEN_ISSUER_URL: mocks.urls.tokenIssuer,
    VOICEID_URL: mocks.urls.voiceid,
    TOKEN_ISSUER_API_KEY: ISSUER_KEY,
    API_KEYS_FILE: keysFile,
    // The offline report writer: an LLM's latency and cost are not the pipeline's.
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    WORKER_CONCURRENCY: String(bench.concurrency.worker),
    DETAIL_CONCURRENCY: String(bench.concurrency.detail),
    LOG_LEVEL: bench.logLevel,
    DATA_DIR: join(bench.dir, `data-${schema}`),
  };
}

export const queuePrefixOf = (bench: Bench, schema: string) => `bench-${bench.runId}-${schema}`;

export interface Books {
  tasks: number;
  completed: number;
  /** Failed or cancelled tasks by error code. */
  notCompleted: Map<string, number>;
  stillReserved: number;
  overBudget: number;
  checked: number;
  differences: string[];
  /** Records bought, per task. */
  paidPerTask: number;
}

/** The books of one schema, checked: every task completed, nothing reserved, spent ≤ budget, ledger = issuer. */
export async function checkBooks(bench: Bench, schema: string, mocks: RunningMocks): Promise<Books> {
  const config = loadConfig({ DATABASE_URL: bench.db.url, DATABASE_SCHEMA: schema });
  const database = await openDatabase({ databaseUrl: bench.db.url, schema, dataDir: bench.dir, poolSize: 2 });
  try {
    const repos = repositories(database, keyringFrom(config.DATA_ENCRYPTION_KEYS));
    const rows = await database.db.selectFrom('tasks').select(['status', 'error_code', 'reserved', 'captured', 'refunded', 'budget_limit']).execute();
    const notCompleted = new Map<string, number>();
    for (const r of rows) if (r.status !== 'completed') notCompleted.set(r.error_code ?? r.status, (notCompleted.get(r.error_code ?? r.status) ?? 0) + 1);
    const bought = await database.db.selectFrom('companies').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'bought').executeTakeFirstOrThrow();
    const { checked, differences } = await reconcile(repos, new IssuerClient(mocks.urls.tokenIssuer!, ISSUER_KEY, 10_000));
    return {
      tasks: rows.length,
      completed: rows.filter((r) => r.status === 'completed').length,
      notCompleted,
      stillReserved: rows.filter((r) => r.reserved !== 0).length,
      overBudget: rows.filter((r) => r.captured - r.refunded + r.reserved > r.budget_limit).length,
      checked: checked.length,
      differences: differences.map((d) => `${d.taskId} ${d.kind}: ${d.detail}`),
      paidPerTask: Number(bought.n) / Math.max(1, rows.length),
    };
  } finally {
    await database.close();
  }
}

export function booksOk(b: Books): boolean {
  return b.tasks > 0 && b.completed === b.tasks && b.stillReserved === 0 && b.overBudget === 0 && b.differences.length === 0 && b.checked === b.tasks;
}
