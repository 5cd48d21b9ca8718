import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, MemoryRecord } from './schema.ts';

/**
 * The tenant's long-term memory (issue 11): every record it bought, as knowledge it owns. A row is
 * written with the delivery of its purchase (`rememberPurchase`: the payment's move to delivered and the
 * record in one statement), so memory holds exactly the delivered purchases. Every read is scoped to one tenant.
 *
 * Retrieval is Postgres full-text search (English stemming: "batteries" finds "battery") over the name
 * (weight A), industry and tags (B), city and summary (C) and risk notes (D) — on PGlite and any
 * Postgres alike. Personal data (shareholders, contacts) is kept in `fields` only, never indexed.
 */

/** How a search text becomes a query: web-search syntax (quotes, `or`, `-`), never a syntax error. */
const query = (text: string) => sql`websearch_to_tsquery('english', ${text})`;

/** A memory record as the API and the report read it: the newest of its company, with its age. */
export interface Recalled {
  id: number;
  companyId: string;
  provider: string;
  resource: string;
  name: string;
  industry: string;
  city: string;
  /** Fen. */
  pricePaid: number;
  currency: string;
  receiptId: string | null;
  paymentId: number;
  taskId: string;
  boughtAt: Date;
  ageSeconds: number;
  fields: Record<string, unknown>;
  /** Relevance to the query (full-text rank); 0 without one. */
  rank: number;
}

/** Where a page of a memory listing starts: after this record (and, with a query, this rank). */
export interface MemoryPosition {
  id: number;
  rank?: number;
}

/** A claim on buying a company: ours, or held by another task of the tenant whose purchase is in flight. */
export type Claim = { ours: true } | { ours: false; holder: string };

/**
 * The record's search vector, from the purchase's company row `c` (its free listing in `basic`, its
 * record in `detail`). Migration 030 backfills with the same expression.
 */
const documentOf = (c: string): RawBuilder<string> => {
  const t = sql.ref(c);
  const list = (path: RawBuilder<unknown>) =>
    sql`coalesce((select string_agg(x, ' ') from jsonb_array_elements_text(case when jsonb_typeof(${path}) = 'array' then ${path} else '[]'::jsonb end) x), '')`;
  return sql<string>`setweight(to_tsvector('english', ${t}.name), 'A')
    || setweight(to_tsvector('english', ${t}.industry || ' ' || ${list(sql`${t}.basic->'tags'`)}), 'B')
    || setweight(to_tsvector('english', ${t}.city || ' ' || coalesce(${t}.basic->>'summary', '')), 'C')
    || setweight(to_tsvector('english', ${list(sql`${t}.detail->'riskNotes'`)}), 'D')`;
};

/** A company's outcome written with its delivery: bought, with the record (and what it lacks, if anything). */
export interface DeliveredRecord {
  taskId: string;
  companyId: string;
  detail: Record<string, unknown>;
  /** Written when given (null clears it); left as it is when undefined. */
  receiptId?: string | null;
  error?: { code: string; message: string };
}

/**
 * Remembers a delivered purchase for its tenant: the record stored on the task's company row (settled
 * `bought`), at the price paid net of refunds. Once per purchase (unique payment id).
 */
export async function rememberPurchase(db: Kysely<Database>, paymentId: number): Promise<boolean> {
  return deliverPurchase(db, paymentId);
}

/**
 * Delivers a purchase in ONE statement (data-modifying CTEs, atomic together): with `record`, the company
 * settled `bought` with it (from `found` only, as settleCompany would); the payment's move to delivered
 * (from captured only, so once); and its memory record — taken from the company as this statement settles
 * it, or as it was already settled `bought` before. So memory holds exactly the delivered purchases, and no
 * snapshot sees the company bought without its payment delivered and remembered: a task waiting for this
 * purchase (the claim) sees all three or none. Returns whether the payment moved to delivered.
 */
export async function deliverPurchase(db: Kysely<Database>, paymentId: number, record?: DeliveredRecord): Promise<boolean> {
  const settled = record
    ? sql`update companies set status = 'bought', detail = ${JSON.stringify(record.detail)}::jsonb,
          receipt_id = ${record.receiptId === undefined ? sql`receipt_id` : sql`${record.receiptId}::text`},
          error_code = ${record.error ? sql`${record.error.code}::text` : sql`error_code`},
          error_message = ${record.error ? sql`${record.error.message}::text` : sql`error_message`},
          updated_at = now()
        where task_id = ${record.taskId} and company_id = ${record.companyId} and status = 'found'
        returning task_id, company_id, name, industry, city, basic, detail`
    : sql`select task_id, company_id, name, industry, city, basic, detail from companies where false`;
  // The company row the record comes from: as this statement settles it (CTEs do not see each other's
  // writes, so from what `settled` returns), else as it was already settled bought.
  const { rows } = await sql<{ delivered: number }>`
    with settled as (${settled}
    ), p as (
      update payments set state = 'delivered', updated_at = now() where id = ${paymentId} and state = 'captured' returning *
    ), c as (
      select s.task_id, s.company_id, s.name, s.industry, s.city, s.basic, s.detail from settled s
      union all
      select x.task_id, x.company_id, x.name, x.industry, x.city, x.basic, x.detail
      from companies x join p on x.task_id = p.task_id and x.company_id = p.company_id
      where x.status = 'bought' and not exists (select 1 from settled)
    ), m as (
      insert into memory_records (tenant, company_id, provider, resource, name, industry, city, price_paid, currency,
                                  receipt_id, payment_id, task_id, fields, search)
      select p.tenant, p.company_id, 'marketplace', p.resource, c.name, c.industry, c.city, p.amount - p.refunded_amount, t.currency,
             p.receipt_id, p.id, p.task_id, c.detail, ${documentOf('c')}
      from p
      join c on c.task_id = p.task_id and c.company_id = p.company_id
      join tasks t on t.id = p.task_id
      where p.amount > 0 and c.detail is not null
      on conflict (payment_id) do nothing
      returning 1
    )
    select (select count(*) from p)::int as delivered`.execute(db);
  return Number(rows[0]?.delivered ?? 0) > 0;
}

/**
 * The newest record of a company the tenant bought within `maxAgeSeconds` (0 or less: none), as one
 * jsonb value (null: none) for a statement that reads it beside other things; `recalledFromJson` reads it.
 * The arguments are SQL expressions, so it can follow a joined task's own window.
 */
export function freshRecordJson(tenant: RawBuilder<unknown>, companyId: RawBuilder<unknown>, maxAgeSeconds: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(select jsonb_build_object('id', m.id, 'company_id', m.company_id, 'provider', m.provider, 'resource', m.resource,
      'name', m.name, 'industry', m.industry, 'city', m.city, 'price_paid', m.price_paid, 'currency', m.currency,
      'receipt_id', m.receipt_id, 'payment_id', m.payment_id, 'task_id', m.task_id, 'bought_at', m.bought_at,
      'fields', m.fields, 'age_seconds', ${ageOf})
    from memory_records m
    where m.tenant = ${tenant} and m.company_id = ${companyId} and ${maxAgeSeconds}::float8 > 0
      and m.bought_at > now() - make_interval(secs => ${maxAgeSeconds}::float8)
    order by m.bought_at desc, m.id desc limit 1)`;
}

/** A record as `freshRecordJson` gives it (null: none). */
export function recalledFromJson(json: unknown): Recalled | undefined {
  if (json === null || json === undefined) return undefined;
  const r = (typeof json === 'string' ? JSON.parse(json) : json) as Omit<RecalledRow, 'bought_at' | 'rank'> & { bought_at: string };
  return recalled({ ...r, bought_at: new Date(r.bought_at), rank: 0 } as RecalledRow);
}

/**
 * Takes the claim on buying a company (an INSERT … RETURNING task_id, to run alone or as a CTE; `rows`
 * selects the (tenant, company_id, task_id) to claim, or nothing): unless another task of the tenant
 * holds it with its purchase in flight — its company still being bought (`found`), or charged and not
 * yet delivered (`captured`). A claim whose purchase ended (delivered, failed, refunded, skipped) passes
 * to the next task that asks; the task's own claim is its own again (a retried job). Returns a row when
 * the claim is ours. The holder's state is read in the statement's snapshot, so a statement that also
 * looks for a remembered record sees either the holder in flight or its delivery (deliverPurchase).
 */
export function claimPurchase(rows: RawBuilder<unknown>): RawBuilder<{ task_id: string }> {
  return sql<{ task_id: string }>`
    insert into purchase_claims as c (tenant, company_id, task_id) ${rows}
    on conflict (tenant, company_id) do update set task_id = excluded.task_id, claimed_at = now()
    where c.task_id = excluded.task_id
       or (not exists (select 1 from companies h where h.task_id = c.task_id and h.company_id = c.company_id and h.status = 'found')
           and not exists (select 1 from payments p where p.task_id = c.task_id and p.company_id = c.company_id and p.state = 'captured'))
    returning task_id`;
}

const ageOf = sql<number>`floor(extract(epoch from now() - m.bought_at))::int`;

/** The tenant's memory: what it bought, found again. */
export class MemoryRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The newest record of a company younger than `maxAgeSeconds`, or undefined. */
  async fresh(tenant: string, companyId: string, maxAgeSeconds: number): Promise<Recalled | undefined> {
    const rows = await this.recall(tenant, [companyId], maxAgeSeconds);
    return rows.get(companyId);
  }

  /** The newest record younger than `maxAgeSeconds` of each of these companies that has one. */
  async recall(tenant: string, companyIds: readonly string[], maxAgeSeconds: number): Promise<Map<string, Recalled>> {
    if (companyIds.length === 0 || maxAgeSeconds <= 0) return new Map();
    const { rows } = await sql<RecalledRow>`
      select distinct on (m.company_id) m.*, ${ageOf} as age_seconds, 0::real as rank
      from memory_records m
      where m.tenant = ${tenant} and m.company_id in (${sql.join(companyIds.map((id) => sql`${id}`))})
        and m.bought_at > now() - make_interval(secs => ${maxAgeSeconds})
      order by m.company_id, m.bought_at desc, m.id desc`.execute(this.db);
    return new Map(rows.map((r) => [r.company_id, recalled(r)]));
  }

  /** The newest record of a company, whatever its age. */
  async newest(tenant: string, companyId: string): Promise<Recalled | undefined> {
    const { rows } = await sql<RecalledRow>`
      select m.*, ${ageOf} as age_seconds, 0::real as rank from memory_records m
      where m.tenant = ${tenant} and m.company_id = ${companyId}
      order by m.bought_at desc, m.id desc limit 1`.execute(this.db);
    return rows[0] && recalled(rows[0]);
  }

  /** How many records (purchases) the tenant holds of a company. */
  async count(tenant: string, companyId: string): Promise<number> {
    const row = await this.db
      .selectFrom('memory_records')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('tenant', '=', tenant)
      .where('company_id', '=', companyId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * One page of the tenant's memory, the newest record of each company: best match first with a query
   * (`q`, web-search syntax; ties newest first), else newest first. Keyset-paginated: `after` is the
   * last record of the previous page (its rank too, with a query; ranks do not depend on the rest of
   * the memory, so a page boundary stays put as records are added).
   */
  async list(tenant: string, opts: { q?: string; limit: number; after?: MemoryPosition }): Promise<Recalled[]> {
    const q = opts.q;
    const rank = q === undefined ? sql`0::real` : sql`ts_rank(m.search, ${query(q)})`;
    const after = opts.after;
    const page = after === undefined ? sql`true` : q === undefined ? sql`id < ${after.id}` : sql`(rank, id) < (${after.rank ?? 0}::real, ${after.id}::bigint)`;
    const { rows } = await sql<RecalledRow>`
      with latest as (
        select distinct on (m.company_id) m.*, ${ageOf} as age_seconds, ${rank} as rank
        from memory_records m
        where m.tenant = ${tenant} ${q === undefined ? sql`` : sql`and m.search @@ ${query(q)}`}
        order by m.company_id, m.bought_at desc, m.id desc
      )
      select * from latest where ${page}
      order by ${q === undefined ? sql`id desc` : sql`rank desc, id desc`}
      limit ${opts.limit}`.execute(this.db);
    return rows.map(recalled);
  }

  /**
   * The tenant's records most relevant to a research theme (its keywords, any of them), best first:
   * the newest record of each company, leaving out `exclude` (the companies the task has already).
   */
  async retrieve(tenant: string, keywords: readonly string[], opts: { exclude: readonly string[]; limit: number }): Promise<Recalled[]> {
    if (keywords.length === 0 || opts.limit <= 0) return [];
    const text = keywords.map((k) => `"${k.replace(/"/g, ' ')}"`).join(' or ');
    const excluded = opts.exclude.length ? sql`and m.company_id not in (${sql.join(opts.exclude.map((id) => sql`${id}`))})` : sql``;
    const { rows } = await sql<RecalledRow>`
      with latest as (
        select distinct on (m.company_id) m.*, ${ageOf} as age_seconds, ts_rank(m.search, ${query(text)}) as rank
        from memory_records m
        where m.tenant = ${tenant} and m.search @@ ${query(text)} ${excluded}
        order by m.company_id, m.bought_at desc, m.id desc
      )
      select * from latest order by rank desc, bought_at desc, id desc limit ${opts.limit}`.execute(this.db);
    return rows.map(recalled);
  }

  /**
   * Takes the claim on buying a company for this task (claimPurchase), unless another task of the tenant
   * holds it with its purchase in flight. (The detail stage takes it with its reservation instead:
   * PaymentRepository.claimAndReserve.)
   */
  async claim(tenant: string, companyId: string, taskId: string): Promise<Claim> {
    const { rows } = await claimPurchase(sql`values (${tenant}, ${companyId}, ${taskId})`).execute(this.db);
    if (rows.length) return { ours: true };
    const held = await this.db.selectFrom('purchase_claims').select('task_id').where('tenant', '=', tenant).where('company_id', '=', companyId).executeTakeFirst();
    // Released between the two statements: ask again.
    return held ? { ours: false, holder: held.task_id } : this.claim(tenant, companyId, taskId);
  }

  /**
   * Forgets a company for a tenant, in one transaction: its memory records, the copies of the record on
   * the tenant's tasks, and — with `reports` — the record in the tenant's stored reports that contain
   * `marker`, rewritten by `rewrite` (undefined: nothing of it there). The payments and the ledger keep
   * the money, not the data. Returns what was removed.
   */
  async forget(
    tenant: string,
    companyId: string,
    reports?: { marker: string; rewrite: (markdown: string) => string | undefined },
  ): Promise<{ records: number; taskCopies: number; taskIds: string[]; reports: number }> {
    return this.db.transaction().execute(async (trx) => {
      let rewritten = 0;
      if (reports) {
        const { rows } = await sql<{ task_id: string; markdown: string }>`
          select r.task_id, r.markdown from reports r join tasks t on t.id = r.task_id
          where t.tenant = ${tenant} and strpos(r.markdown, ${reports.marker}) > 0
          for update of r`.execute(trx);
        for (const row of rows) {
          const markdown = reports.rewrite(row.markdown);
          if (markdown === undefined) continue;
          await trx.updateTable('reports').set({ markdown }).where('task_id', '=', row.task_id).execute();
          rewritten++;
        }
      }
      const records = await trx.deleteFrom('memory_records').where('tenant', '=', tenant).where('company_id', '=', companyId).executeTakeFirst();
      const copies = await trx
        .updateTable('companies')
        .set({ detail: null, updated_at: sql<Date>`now()` })
        .where('company_id', '=', companyId)
        .where('detail', 'is not', null)
        .where('task_id', 'in', (eb) => eb.selectFrom('tasks').select('id').where('tenant', '=', tenant))
        .returning('task_id')
        .execute();
      return { records: Number(records.numDeletedRows), taskCopies: copies.length, taskIds: copies.map((c) => c.task_id), reports: rewritten };
    });
  }

  /**
   * Deletes what is older than the retention: memory records bought before it, the copies of records on
   * tasks that ended before it, and purchase claims taken before it (long over). Returns how many
   * records and copies.
   */
  async purgeOlderThan(retentionSeconds: number): Promise<{ records: number; taskCopies: number }> {
    const cutoff = sql<Date>`now() - make_interval(secs => ${retentionSeconds})`;
    await this.db.deleteFrom('purchase_claims').where('claimed_at', '<', cutoff).execute();
    const records = await this.db.deleteFrom('memory_records').where('bought_at', '<', cutoff).executeTakeFirst();
    const copies = await this.db
      .updateTable('companies')
      .set({ detail: null, updated_at: sql<Date>`now()` })
      .where('detail', 'is not', null)
      .where('task_id', 'in', (eb) => eb.selectFrom('tasks').select('id').where('ended_at', '<', cutoff))
      .executeTakeFirst();
    return { records: Number(records.numDeletedRows), taskCopies: Number(copies.numUpdatedRows) };
  }

  /**
   * Where each record a task reused came from: company → the purchase's task and when it was bought
   * (from the ledger's side, so a record forgotten since still shows its origin).
   */
  async reuseSources(taskIds: readonly string[]): Promise<Map<string, Map<string, { taskId: string; boughtAt: Date }>>> {
    const out = new Map<string, Map<string, { taskId: string; boughtAt: Date }>>(taskIds.map((id) => [id, new Map()]));
    if (taskIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('payments as r')
      .innerJoin('payments as s', 's.id', 'r.reused_payment_id')
      .leftJoin('memory_records as m', 'm.payment_id', 's.id')
      .select(['r.task_id', 'r.company_id', 's.task_id as source_task', sql<Date>`coalesce(m.bought_at, s.created_at)`.as('bought_at')])
      .where('r.task_id', 'in', taskIds)
      .execute();
    for (const r of rows) out.get(r.task_id)?.set(r.company_id, { taskId: r.source_task, boughtAt: r.bought_at });
    return out;
  }
}

type RecalledRow = MemoryRecord & { age_seconds: number; rank: number };

function recalled(r: RecalledRow): Recalled {
  return {
    id: Number(r.id),
    companyId: r.company_id,
    provider: r.provider,
    resource: r.resource,
    name: r.name,
    industry: r.industry,
    city: r.city,
    pricePaid: Number(r.price_paid),
    currency: r.currency,
    receiptId: r.receipt_id,
    paymentId: Number(r.payment_id),
    taskId: r.task_id,
    boughtAt: r.bought_at,
    ageSeconds: Math.max(0, Number(r.age_seconds)),
    fields: (typeof r.fields === 'string' ? JSON.parse(r.fields) : r.fields) as Record<string, unknown>,
    rank: Number(r.rank),
  };
}
