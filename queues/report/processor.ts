import { TERMINAL } from '../../shared/db/companies.ts';
import type { ReportInputs } from '../../shared/db/reports.ts';
import { keywordsOf } from '../../shared/agent/rank.ts';
import { highlights } from '../../shared/report/highlights.ts';
import { narrateWithModel, offlineNarrative, type Narrative } from '../../shared/report/narrative.ts';
import type { JobContext, Processor, StageDeps } from '../deps.ts';
import { standDown } from '../handoff.ts';
import { consult } from '../model.ts';
import type { Payload } from '../payloads.ts';
import { settleTaskMoney, TASK_ENDED } from '../settle.ts';
import { announceEnd } from '../webhook/processor.ts';
import { renderReport, reportCompanies } from './markdown.ts';

/**
 * Report: runs once every detail child has ended. Closes the task's money first (token closed, open
 * payments settled, undelivered charges refunded), so the report shows the final figures; then writes the
 * report, and stores it in the statement that completes the task (companies never bought skipped, foreign
 * charges noted, the task ended with its webhook delivery).
 */
export const processReport: Processor<Payload<'report'>> = async ({ taskId }, deps, ctx) => {
  const task = await deps.repos.tasks.enterStage(taskId, 'report');
  if (!task) return standDown(deps, taskId);
  const foreign = await settleTaskMoney(deps, task, ctx.signal);
  const inputs = await deps.repos.reports.inputsOf(taskId);
  if (!inputs) return standDown(deps, taskId);
  const markdown = await writeReport(deps, asClosed(inputs), ctx);
  const closed = await deps.repos.reports.saveAndClose(taskId, markdown, { skip: TASK_ENDED, foreign, status: 'completed' });
  if (closed.ended) await announceEnd(deps, taskId, closed.deliveries);
  return { writer: markdown.writer, bytes: markdown.markdown.length };
};

/**
 * The report's inputs as the statement that stores it leaves them: a company that never reached an outcome
 * is skipped by it (as `closeTaskMoney` would have before the report was written), so the report shows it so.
 */
function asClosed(inputs: ReportInputs): ReportInputs {
  const companies = inputs.companies.map((c) => (TERMINAL.includes(c.status) ? c : { ...c, status: 'skipped' as const, error_code: TASK_ENDED.code, error_message: TASK_ENDED.message }));
  return { ...inputs, companies };
}

async function writeReport(deps: StageDeps, inputs: ReportInputs, ctx: JobContext): Promise<{ markdown: string; writer: string }> {
  const { task, companies, payments, ledger, queries, reusedFrom } = inputs;
  const taskId = task.id;
  // Retrieval: what else the tenant owns that bears on the theme (full-text over its memory), beside the task's own records.
  const own = companies.filter((c) => c.status === 'bought' || c.status === 'reused').map((c) => c.company_id);
  const retrieved = await deps.repos.memory.retrieve(task.tenant, keywordsOf(task.theme), { exclude: own, limit: deps.memory.retrieveLimit });
  const rcs = reportCompanies(companies, retrieved);
  const offline = () => offlineNarrative(task.theme, rcs, highlights(rcs));
  // With no record (none bought, none owned on the theme) there is nothing for a model to analyse: no call is made.
  const ask = deps.model && rcs.length ? (onUsage: Parameters<typeof narrateWithModel>[2]['onUsage']) => narrateWithModel(deps.model!, { theme: task.theme, companies: rcs }, { signal: ctx.signal, onUsage }) : undefined;
  const written = await consult<Narrative>(deps, taskId, 'narrate', ctx, ask, offline);
  const writer = written.by === 'model' ? deps.model!.name : written.error ? `offline (model failed: ${written.error})` : 'offline';
  const model = await deps.repos.agent.useOf(taskId);
  return {
    markdown: renderReport({
      task,
      companies,
      retrieved,
      reusedFrom,
      payments,
      ledger,
      narrative: written.value,
      writer,
      model,
      queries,
      marketplaceUrl: deps.marketplaceUrl,
    }),
    writer,
  };
}
