import { PermanentError } from '../../shared/errors.ts';
import { OfflineWriter } from '../../shared/llm/index.ts';
import type { Processor, StageDeps } from '../deps.ts';
import type { Payload } from '../payloads.ts';
import { standDown } from '../handoff.ts';
import { closeTaskMoney } from '../settle.ts';
import { renderReport } from './markdown.ts';

const offline = new OfflineWriter();

/**
 * Report: runs once every detail child has ended. Closes the task's money first (token closed,
 * open payments settled, undelivered charges refunded), so the report shows the final figures;
 * then writes the markdown and completes the task.
 */
export const processReport: Processor<Payload<'report'>> = async ({ taskId }, deps, ctx) => {
  const task = await deps.repos.tasks.enterStage(taskId, 'report');
  if (!task) return standDown(deps, taskId);
  await closeTaskMoney(deps, taskId, ctx.signal);
  const markdown = await writeReport(deps, taskId, ctx.isFinalAttempt, ctx.signal);
  await deps.repos.reports.save(taskId, markdown.text, markdown.writer);
  await deps.repos.tasks.end(taskId, 'completed');
  return { writer: markdown.writer, bytes: markdown.text.length };
};

async function writeReport(deps: StageDeps, taskId: string, lastChance: boolean, signal?: AbortSignal) {
  const [task, companies, payments, ledger] = await Promise.all([
    deps.repos.tasks.get(taskId),
    deps.repos.companies.list(taskId),
    deps.repos.payments.forTask(taskId),
    deps.repos.payments.ledger(taskId),
  ]);
  const bought = companies.filter((c) => c.status === 'bought' || c.status === 'reused');
  const input = {
    theme: task!.theme,
    companies: bought.map((c) => ({ id: c.company_id, name: c.name, industry: c.industry, city: c.city, detail: (c.detail ?? {}) as Record<string, unknown> })),
    skipped: companies.length - bought.length,
  };
  let analysis: string;
  let writer = deps.writer.name;
  try {
    analysis = await deps.writer.write(input, signal);
  } catch (err) {
    // The model is an embellishment: when it refuses for good, or no retries are left, the report goes
    // out with the offline summary rather than failing a task whose records were paid for.
    if ((!lastChance && !(err instanceof PermanentError)) || deps.writer === offline) throw err;
    deps.log.warn({ taskId, err: (err as Error).message }, 'language model failed; writing the summary offline');
    analysis = await offline.write(input);
    writer = `${offline.name} (model failed: ${(err as Error).message})`;
  }
  return { text: renderReport({ task: task!, companies, payments, ledger, analysis, writer, marketplaceUrl: deps.marketplaceUrl }), writer };
}
