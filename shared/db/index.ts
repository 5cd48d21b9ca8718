import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from './connect.ts';
import { AgentRepository } from './agent.ts';
import { ApiKeyRepository } from './api-keys.ts';
import { CompanyRepository } from './companies.ts';
import { DashboardRepository } from './dashboard.ts';
import { TaskEventRepository } from './events.ts';
import { LedgerExportRepository } from './ledger-export.ts';
import { MemoryRepository } from './memory.ts';
import { OperatorAuditRepository } from './operator-audit.ts';
import { PaymentRepository } from './payments.ts';
import { PolicyRepository } from './policies.ts';
import { ReportRepository } from './reports.ts';
import { TaskRepository } from './tasks.ts';
import { WebhookRepository } from './webhooks.ts';

export * from './connect.ts';
export { dropSchema, isMigrated, migrate } from './migrate.ts';
export * from './schema.ts';
export { isPaymentKeyOf, paymentKey } from './payments.ts';
export type { ModelCallRecord, ModelUse } from './agent.ts';
export type { Claim, MemoryPosition, Recalled } from './memory.ts';
export { TASK_EVENT_TYPES, type TaskEvent, type TaskEventData, type TaskEventType } from './events.ts';

/** Every repository over one database handle. */
export interface Repositories {
  tasks: TaskRepository;
  /** Every task's story (issue 13): read it, and hear that it grew. */
  events: TaskEventRepository;
  webhooks: WebhookRepository;
  companies: CompanyRepository;
  payments: PaymentRepository;
  dashboard: DashboardRepository;
  reports: ReportRepository;
  agent: AgentRepository;
  apiKeys: ApiKeyRepository;
  policies: PolicyRepository;
  operatorAudit: OperatorAuditRepository;
  ledgerExport: LedgerExportRepository;
  memory: MemoryRepository;
}

/** Every repository; `keyring` seals and opens the secrets they keep (token ids, receipts). */
export function repositories(database: Db, keyring: Keyring): Repositories {
  const { db } = database;
  const events = new TaskEventRepository(db);
  return {
    tasks: new TaskRepository(db, keyring, events),
    events,
    webhooks: new WebhookRepository(db),
    companies: new CompanyRepository(db, events),
    payments: new PaymentRepository(db, keyring, events),
    dashboard: new DashboardRepository(db),
    reports: new ReportRepository(db, events),
    agent: new AgentRepository(db),
    apiKeys: new ApiKeyRepository(db),
    policies: new PolicyRepository(db),
    operatorAudit: new OperatorAuditRepository(db),
    ledgerExport: new LedgerExportRepository(db),
    memory: new MemoryRepository(db),
  };
}
