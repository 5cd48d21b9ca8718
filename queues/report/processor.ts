import { keywordsOf } from '../../shared/agent/rank.ts';
import { highlights } from '../../shared/report/highlights.ts';
import { narrateWithModel, offlineNarrative, type Narrative } from '../../shared/report/narrative.ts';
import type { JobContext, Processor, StageDeps } from '../deps.ts';
import { standDown } from '../handoff.ts';
import { consult } from '../model.ts';
import type { Payload } from '../payloads.ts';
import { closeTaskMoney, endTask } from '../settle.ts';
import { renderReport, reportCompanies } from './markdown.ts';

/**
 * Report: runs once every detail child has ended. Closes the task's money first (token closed,
 * open payments settled, undelivered charges refunded), so the report shows the final figures;
 * then writes the report and completes the task.
 */
export const processReport: Processor<Payload<'report'>> = async ({ taskId }, deps, ctx) => {
  const task = await deps.repos.tasks.enterStage(taskId, 'report');
  if (!task) return standDown(deps, taskId);
  await closeTaskMoney(deps, taskId, ctx.signal);
  const markdown = await writeReport(deps, taskId, ctx);
  await deps.repos.reports.save(taskId, markdown.text, markdown.writer);
  await endTask(deps, taskId, 'completed');
  return { writer: markdown.writer, bytes: markdown.text.length };
};

async function writeReport(deps: StageDeps, taskId: string, ctx: JobContext) {
  const [task, companies, payments, ledger, plan, sources] = await Promise.all([
    deps.repos.tasks.get(taskId),
    deps.repos.companies.list(taskId),
    deps.repos.payments.forTask(taskId),
    deps.repos.payments.ledger(taskId),
    deps.repos.agent.planOf(taskId),
    deps.repos.memory.reuseSources([taskId]),
  ]);
  // Retrieval: what else the tenant owns that bears on the theme (full-text over its memory), beside the task's own records.
  const own = companies.filter((c) => c.status === 'bought' || c.status === 'reused').map((c) => c.company_id);
  const retrieved = await deps.repos.memory.retrieve(task!.tenant, keywordsOf(task!.theme), { exclude: own, limit: deps.memory.retrieveLimit });
  const rcs = reportCompanies(companies, retrieved);
  const offline = () => offlineNarrative(task!.theme, rcs, highlights(rcs));
  // With no record (none bought, none owned on the theme) there is nothing for a model to analyse: no call is made.
  const ask = deps.model && rcs.length ? (onUsage: Parameters<typeof narrateWithModel>[2]['onUsage']) => narrateWithModel(deps.model!, { theme: task!.theme, companies: rcs }, { signal: ctx.signal, onUsage }) : undefined;
  const written = await consult<Narrative>(deps, taskId, 'narrate', ctx, ask, offline);
  const writer = written.by === 'model' ? deps.model!.name : written.error ? `offline (model failed: ${written.error})` : 'offline';
  const model = await deps.repos.agent.useOf(taskId);
  return {
    text: renderReport({
      task: task!,
      companies,
      retrieved,
      reusedFrom: sources.get(taskId),
      payments,
      ledger,
      narrative: written.value,
      writer,
      model,
      queries: plan?.queries ?? [],
      marketplaceUrl: deps.marketplaceUrl,
    }),
    writer,
  };
}
