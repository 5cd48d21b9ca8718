import type { Company, Task } from '../../shared/db/index.ts';
import { budgetView, formatMoney } from '../../shared/money.ts';

/** The API view of a task (DESIGN.md §5). */
export function taskView(task: Task, companies: Company[]) {
  return {
    id: task.id,
    theme: task.theme,
    status: task.status,
    stage: task.stage,
    maxCompanies: task.max_companies,
    budget: {
      ...budgetView({ limit: task.budget_limit, reserved: task.reserved, captured: task.captured, refunded: task.refunded }),
      released: formatMoney(task.released),
    },
    companies: companies.map((c) => ({
      id: c.company_id,
      name: c.name,
      industry: c.industry,
      price: formatMoney(c.price),
      status: c.status,
      ...(c.receipt_id ? { receiptId: c.receipt_id } : {}),
      ...(c.error_code ? { reason: { code: c.error_code, message: c.error_message } } : {}),
    })),
    ...(task.cancel_requested && task.status !== 'cancelled' ? { cancelRequested: true } : {}),
    ...(task.error_code ? { error: { code: task.error_code, message: task.error_message } } : {}),
    createdAt: task.created_at.toISOString(),
    updatedAt: task.updated_at.toISOString(),
    ...(task.ended_at ? { endedAt: task.ended_at.toISOString() } : {}),
  };
}
