import { sql, type Kysely } from 'kysely';
import { freshRecordJson, recalledFromJson, type Recalled } from './memory.ts';
import type { Company, Database, Payment, Task } from './schema.ts';

/** Every column of a payment, named (no `select *` on the hot path); the type check keeps the list whole. */
export const PAYMENT_COLUMNS = [
  'id', 'task_id', 'company_id', 'tenant', 'resource', 'amount', 'idempotency_key', 'state', 'charge_id', 'receipt_id', 'receipt',
  'receipt_expires_at', 'refunded_amount', 'reused_payment_id', 'pending_refund_key', 'pending_refund_amount', 'last_error', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof Payment>;
type Missing = Exclude<keyof Payment, (typeof PAYMENT_COLUMNS)[number]>;
const everyPaymentColumn: [Missing] extends [never] ? true : Missing = true;
void everyPaymentColumn;

/** What a detail job needs of its task: whether it may buy, for whom, and with which token. */
export type PurchaseTask = Pick<Task, 'id' | 'tenant' | 'status' | 'cancel_requested' | 'token_id'>;
/** What a detail job needs of its company: whether it is still to be bought, and its listed price. */
export type PurchaseCompany = Pick<Company, 'task_id' | 'company_id' | 'status' | 'price'>;

/** Everything a detail job reads before it acts (one statement). */
export interface PurchaseView {
  task: PurchaseTask;
  /** Undefined: the task has no such company. */
  company: PurchaseCompany | undefined;
  /** The payment under the purchase's idempotency key: a retry resumes from its state. */
  payment: Payment | undefined;
  /** The tenant's daily spending cap in fen (its own, else the default); null: none. */
  dailyCap: number | null;
  /** The task's freshness window in seconds (its own maxAge, else the default; 0: always buy). */
  maxAgeSeconds: number;
  /** The newest record the tenant owns of the company within that window — looked for only while the company is still to be bought. */
  remembered: Recalled | undefined;
}

type Row = PurchaseTask & {
  max_age_seconds: number;
  daily_cap: number | null;
  c_company_id: string | null;
  c_status: Company['status'] | null;
  c_price: number | null;
  remembered: unknown;
} & { [K in (typeof PAYMENT_COLUMNS)[number] as `p_${K}`]: Payment[K] | null };

/**
 * One read of a detail job's whole world: the task (its needed columns), its company, the payment by
 * key, the tenant's effective daily cap (its policy's own value, else `defaults.dailyCap`) and the task's
 * freshness window (its own, else `defaults.maxAgeSeconds`), and — only when the company is still
 * `found` and nothing was paid for it yet — the freshest record the tenant owns of it. Undefined: no such task.
 */
export async function readPurchase(
  db: Kysely<Database>,
  input: { taskId: string; companyId: string; key: string; defaults: { dailyCap: number | null; maxAgeSeconds: number } },
): Promise<PurchaseView | undefined> {
  const maxAge = sql`coalesce(t.max_age_seconds, ${input.defaults.maxAgeSeconds}::int)`;
  const paymentColumns = sql.raw(PAYMENT_COLUMNS.map((c) => `p.${c} as p_${c}`).join(', '));
  const { rows } = await sql<Row>`
    select t.id, t.tenant, t.status, t.cancel_requested, t.token_id, ${maxAge} as max_age_seconds,
      coalesce(tp.daily_spend, ${input.defaults.dailyCap}::bigint) as daily_cap,
      c.company_id as c_company_id, c.status as c_status, c.price as c_price,
      ${paymentColumns},
      case when c.status = 'found' and p.id is null then ${freshRecordJson(sql`t.tenant`, sql`c.company_id`, maxAge)} end as remembered
    from tasks t
    left join companies c on c.task_id = t.id and c.company_id = ${input.companyId}
    left join payments p on p.idempotency_key = ${input.key}
    left join tenant_policies tp on tp.tenant = t.tenant
    where t.id = ${input.taskId}`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  return {
    task: { id: row.id, tenant: row.tenant, status: row.status, cancel_requested: row.cancel_requested, token_id: row.token_id },
    company:
      row.c_company_id === null ? undefined : { task_id: row.id, company_id: row.c_company_id, status: row.c_status!, price: Number(row.c_price) },
    payment: row.p_id === null ? undefined : paymentOf(row),
    dailyCap: row.daily_cap === null ? null : Number(row.daily_cap),
    maxAgeSeconds: Number(row.max_age_seconds),
    remembered: recalledFromJson(row.remembered),
  };
}

function paymentOf(row: Row): Payment {
  return Object.fromEntries(PAYMENT_COLUMNS.map((c) => [c, row[`p_${c}`]])) as unknown as Payment;
}
