import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Money columns: bigint in SQL, integer fen in TypeScript (parsed by the driver setup in connect.ts). */
type Fen = number;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = unknown> = ColumnType<T, string, string>;

export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export type Stage = 'search' | 'authorize' | 'detail' | 'report';
export type CompanyStatus = 'found' | 'skipped' | 'bought' | 'reused' | 'failed' | 'refunded';
/**
 * A payment's life: reserved → captured → delivered, or → released (never charged),
 * or captured → refunded. `unknown` means the pay call's outcome is not known yet:
 * resolved only by asking the issuer for the charge with the payment's idempotency key.
 */
export type PaymentState = 'reserved' | 'unknown' | 'captured' | 'delivered' | 'released' | 'refunded';
export type LedgerKind = 'reserve' | 'capture' | 'release' | 'refund';

export interface TasksTable {
  id: string;
  /** Insertion order: the exact key of newest-first listings. */
  seq: Generated<number>;
  tenant: string;
  idempotency_key: string | null;
  request_hash: string | null;
  theme: string;
  voice_id: string;
  currency: string;
  max_companies: number;
  status: TaskStatus;
  stage: Stage | null;
  budget_limit: Fen;
  reserved: Generated<Fen>;
  captured: Generated<Fen>;
  refunded: Generated<Fen>;
  released: Generated<Fen>;
  /** The payment token id, sealed (shared/crypto): open it with `repos.tasks.tokenOf()`, in workers only. */
  token_id: string | null;
  /** Enough of the token id for finance to recognise it (`tok_…9e`); safe to show. */
  token_hint: Generated<string | null>;
  /** Money someone else charged to the task's token (charges under keys that are not ours), in fen. */
  foreign_charged: Generated<Fen>;
  cancel_requested: Generated<boolean>;
  /** The task's freshness window for records it owns (seconds; 0 = always buy); null: MEMORY_MAX_AGE. */
  max_age_seconds: ColumnType<number | null, number | null | undefined, number | null>;
  error_code: string | null;
  error_message: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  ended_at: Date | null;
  /** The last event's `seq` (shared/db/events.ts draws the next one from it). */
  event_seq: Generated<number>;
  /** Where the task is announced when it ends (webhooks); null: nowhere. */
  webhook_url: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One event of a task's story: `seq` is the task's own sequence, 1, 2, 3… in commit order. */
export interface TaskEventsTable {
  task_id: string;
  seq: number;
  kind: string;
  data: Json<Record<string, unknown>>;
  created_at: CreatedAt;
}

export type WebhookState = 'pending' | 'delivered' | 'failed';

/** The announcement of a task's end to its webhook URL: one per task, written when the task ends. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  task_id: string;
  tenant: string;
  url: string;
  event: string;
  state: Generated<WebhookState>;
  attempts: Generated<number>;
  /** The exact bytes sent (and signed), fixed at the first attempt. */
  body: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  delivered_at: Date | null;
}

/** One attempt at a delivery: the receiver's status, or why it was not reached. */
export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  attempt: number;
  at: CreatedAt;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface CompaniesTable {
  task_id: string;
  company_id: string;
  rank: number;
  name: string;
  industry: string;
  city: string;
  price: Fen;
  relevance: number;
  status: CompanyStatus;
  basic: Json<Record<string, unknown>>;
  detail: Json<Record<string, unknown>> | null;
  receipt_id: string | null;
  error_code: string | null;
  error_message: string | null;
  /** The agent's decision (shared/agent/rules.ts): `buy` or `skip`, in words, by `model` or `rules`. */
  decision_action: 'buy' | 'skip' | null;
  decision_reason: string | null;
  decision_by: 'model' | 'rules' | null;
  updated_at: UpdatedAt;
}

/** A task's search plan: the queries it ran, who planned them and who decided what to buy. */
export interface AgentPlansTable {
  task_id: string;
  queries: Json<string[]>;
  planned_by: 'model' | 'rules';
  decided_by: 'model' | 'rules' | null;
  /** What went other than planned: the model failed, a rule clipped its answer. One line each. */
  notes: ColumnType<string[], string | undefined, string>;
  created_at: CreatedAt;
}

/** One language-model call of a task; cost in integer micro-dollars, null when the model has no price. */
export interface ModelCallsTable {
  id: Generated<number>;
  task_id: string;
  purpose: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_micro_usd: number | null;
  created_at: CreatedAt;
}

export interface PaymentsTable {
  id: Generated<number>;
  task_id: string;
  company_id: string;
  tenant: string;
  resource: string;
  amount: Fen;
  idempotency_key: string;
  state: PaymentState;
  charge_id: string | null;
  receipt_id: string | null;
  receipt: string | null;
  receipt_expires_at: Date | null;
  refunded_amount: Generated<Fen>;
  /** The purchase a reused record came from (the tenant's memory; before it, another purchase's receipt). */
  reused_payment_id: number | null;
  /** A refund asked of the issuer (or about to be) and not yet booked: replayed under this key until it is. */
  pending_refund_key: string | null;
  pending_refund_amount: Fen | null;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface LedgerEntriesTable {
  id: Generated<number>;
  task_id: string;
  payment_id: number;
  kind: LedgerKind;
  amount: Fen;
  /** Unique per money movement, so a redelivered step never books twice. */
  event_key: string;
  created_at: CreatedAt;
}

export interface ReportsTable {
  task_id: string;
  markdown: string;
  writer: string;
  created_at: CreatedAt;
}

export interface BudgetUsageTable {
  task_id: string;
  tenant: string;
  reserved: Generated<Fen>;
  captured: Generated<Fen>;
  released: Generated<Fen>;
  refunded: Generated<Fen>;
  events: Generated<number>;
  updated_at: UpdatedAt;
}

export interface BudgetUsageDailyTable {
  tenant: string;
  day: string;
  reserved: Generated<Fen>;
  captured: Generated<Fen>;
  released: Generated<Fen>;
  refunded: Generated<Fen>;
  events: Generated<number>;
}

export interface DashboardAppliedTable {
  ledger_entry_id: number;
  applied_at: CreatedAt;
}

/** An API key of a tenant: only its SHA-256 digest is kept (the key is shown once, when made). */
export interface ApiKeysTable {
  id: string;
  tenant: string;
  name: string;
  /** Hex SHA-256 of the key. */
  key_digest: string;
  /** The key's prefix and last four characters (`arp_…x9Qz`): enough to tell keys apart, not to use one. */
  hint: string;
  created_by: string;
  created_at: CreatedAt;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

/** A tenant's spending-policy overrides; null means the configured default (TENANT_*). Money in fen. */
export interface TenantPoliciesTable {
  tenant: string;
  tasks_per_minute: number | null;
  open_tasks: number | null;
  max_budget: Fen | null;
  daily_spend: Fen | null;
  updated_by: string;
  updated_at: UpdatedAt;
}

/** reserved + captured − refunded of the tasks a tenant created on one UTC day, in fen. */
export interface TenantSpendDailyTable {
  tenant: string;
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  spend: Generated<Fen>;
}

/**
 * A record a tenant bought, kept as knowledge (issue 11): one row per delivered purchase, written in the
 * same transaction that marks the payment delivered. `fields` is the record as stored (personal data:
 * deleted on request and after MEMORY_RETENTION); `search` its full-text vector.
 */
export interface MemoryRecordsTable {
  id: Generated<number>;
  tenant: string;
  company_id: string;
  provider: string;
  resource: string;
  name: string;
  industry: string;
  city: string;
  /** What the purchase cost in the end: the amount charged less what was refunded, in fen. */
  price_paid: Fen;
  currency: string;
  receipt_id: string | null;
  /** The purchase it came from (payments.id). */
  payment_id: number;
  task_id: string;
  bought_at: CreatedAt;
  fields: Json<Record<string, unknown>>;
  /** tsvector: never read as a value, only matched. */
  search: ColumnType<string, never, never>;
}

/** Which task of a tenant is buying a company right now (the others wait for its purchase). */
export interface PurchaseClaimsTable {
  tenant: string;
  company_id: string;
  task_id: string;
  claimed_at: UpdatedAt;
}

/** One operator action: who, what, when, from where, and how it was answered. */
export interface OperatorAuditTable {
  id: Generated<number>;
  at: CreatedAt;
  actor: string;
  role: string;
  action: string;
  tenant: string | null;
  target: string | null;
  details: Json<Record<string, unknown>>;
  address: string | null;
  user_agent: string | null;
  status: number | null;
}

/** The whole database, as kysely sees it. The only place for Generated/ColumnType. */
export interface Database {
  tasks: TasksTable;
  task_events: TaskEventsTable;
  companies: CompaniesTable;
  payments: PaymentsTable;
  ledger_entries: LedgerEntriesTable;
  reports: ReportsTable;
  budget_usage: BudgetUsageTable;
  budget_usage_daily: BudgetUsageDailyTable;
  dashboard_applied: DashboardAppliedTable;
  agent_plans: AgentPlansTable;
  model_calls: ModelCallsTable;
  api_keys: ApiKeysTable;
  tenant_policies: TenantPoliciesTable;
  tenant_spend_daily: TenantSpendDailyTable;
  operator_audit: OperatorAuditTable;
  memory_records: MemoryRecordsTable;
  purchase_claims: PurchaseClaimsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}

export type Task = Selectable<TasksTable>;
export type NewTask = Insertable<TasksTable>;
export type Company = Selectable<CompaniesTable>;
export type Payment = Selectable<PaymentsTable>;
export type LedgerEntry = Selectable<LedgerEntriesTable>;
export type AgentPlan = Selectable<AgentPlansTable>;
export type ModelCall = Selectable<ModelCallsTable>;
export type ApiKey = Selectable<ApiKeysTable>;
export type TenantPolicyRow = Selectable<TenantPoliciesTable>;
export type OperatorAuditEntry = Selectable<OperatorAuditTable>;
export type MemoryRecord = Selectable<MemoryRecordsTable>;
export type TaskEventRow = Selectable<TaskEventsTable>;
export type WebhookDelivery = Selectable<WebhookDeliveriesTable>;
export type WebhookAttempt = Selectable<WebhookAttemptsTable>;
