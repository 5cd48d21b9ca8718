import { writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseMoney } from '../../shared/money.ts';
import { GatewayClient, GatewayProblem, UnexpectedAnswer, type TaskEvent, type TaskView } from '../gateway/client.ts';
import { describe, progressFor } from './progress.ts';

/**
 * `npm run cli -- <command>`: research from the command line (issue 13) — submit a task and follow it
 * live (a line per stage and decision, a bar for the money as it moves), then print its report; or look
 * at tasks: status, report, list, cancel, events. Talks to the gateway with the typed client
 * (apps/gateway/client.ts), at `--url` / ARP_URL with `--key` / ARP_API_KEY.
 *
 * Exit codes: 0 the task completed (or the command did what it was asked), 1 the task failed or was
 * cancelled (or has no report, or had already ended), 2 a usage error or the gateway could not be
 * reached or refused the call (bad key, unknown task).
 */

/** A task that ended otherwise than completed, or a report that is not there: exit 1. */
class TaskOutcome extends Error {}
/** The command could not be carried out (usage, connection, refusal): exit 2. */
class Unusable extends Error {}

const EXIT = { ok: 0, task: 1, usage: 2 } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** For tests: how the client reaches the gateway (default: fetch over the network). */
  fetch?: (url: string, init: RequestInit) => Promise<Response> | Response;
}

/** Runs the CLI with these arguments (without `node` and the script); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('arp')
    .description('agent-research-pay from the command line: research a theme within a budget, follow it live, read the report')
    .addOption(new Option('--url <url>', 'the gateway').env('ARP_URL').default('http://127.0.0.1:8000'))
    .addOption(new Option('--key <key>', 'an API key of your tenant').env('ARP_API_KEY'))
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', '\nExit codes: 0 completed, 1 failed or cancelled, 2 usage or connection error.');

  // Commander reads .env() from process.env; take the given environment instead (tests, embedding).
  const client = () => {
    const opts = program.opts<{ url?: string; key?: string }>();
    const url = optsFrom(program, 'url') ?? io.env.ARP_URL ?? opts.url ?? 'http://127.0.0.1:8000';
    const key = optsFrom(program, 'key') ?? io.env.ARP_API_KEY;
    if (!key) throw new Unusable('no API key: pass --key or set ARP_API_KEY');
    if (!URL.canParse(url)) throw new Unusable(`--url: ${url} is not a URL`);
    return { api: new GatewayClient({ baseUrl: url, token: key, ...(io.fetch ? { fetch: io.fetch } : {}) }), url };
  };

  program
    .command('research')
    .description('submit a research task, follow it live, then print its report (or write it with -o)')
    .argument('<theme...>', 'what to research, e.g. "solid-state batteries"')
    .requiredOption('--budget <amount>', 'the most it may spend, in CNY (e.g. 50 or 49.90)', amount)
    .requiredOption('--voice <voiceId>', 'the voice that consents to the spending')
    .option('--max-companies <n>', 'how many records it may buy (1–20)', wholeNumber)
    .option('--max-age <seconds>', 'reuse records you own younger than this (0: always buy)', wholeNumber)
    .option('--webhook-url <url>', "POST the task's final view there when it ends (signed)")
    .option('--idempotency-key <key>', 'makes a retried submission the same task')
    .option('-o, --output <file>', 'write the report to a file instead of printing it')
    .option('--html', 'the report as a sanitised HTML page instead of markdown')
    .option('--no-follow', 'submit and print the task id, without following it')
    .action(async (words: string[], o: { budget: string; voice: string; maxCompanies?: number; maxAge?: number; webhookUrl?: string; idempotencyKey?: string; output?: string; html?: boolean; follow: boolean }) => {
      const { api } = client();
      const body = {
        theme: words.join(' '),
        budget: o.budget,
        voiceId: o.voice,
        ...(o.maxCompanies !== undefined ? { maxCompanies: o.maxCompanies } : {}),
        ...(o.maxAge !== undefined ? { maxAge: o.maxAge } : {}),
        ...(o.webhookUrl !== undefined ? { webhookUrl: o.webhookUrl } : {}),
      };
      const { task, replayed } = await api.createTask(body, o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {});
      if (!o.follow) {
        io.stdout.write(`${task.id}\n`);
        return;
      }
      io.stderr.write(`task ${task.id} ${replayed ? 'already submitted' : 'submitted'}: "${task.theme}", budget ${task.budget.limit} CNY\n`);
      const ended = await follow(api, task.id, parseMoney(task.budget.limit), io);
      code = await finish(api, task.id, ended, io, { output: o.output, html: o.html });
    });

  program
    .command('events')
    .description("print a task's story, one line per event (follows it live until it ends)")
    .argument('<id>', 'the task id', taskId)
    .option('--after <seq>', 'start after this event', wholeNumber)
    .option('--json', 'each event as a line of JSON')
    .option('--no-follow', 'print what is stored and stop')
    .action(async (id: string, o: { after?: number; json?: boolean; follow: boolean }) => {
      const { api } = client();
      const print = (e: TaskEvent) => io.stdout.write(o.json ? `${JSON.stringify(e)}\n` : `${String(e.seq).padStart(4)} ${e.at} ${describe(e)}\n`);
      let last: TaskEvent | undefined;
      if (!o.follow) {
        let after = o.after ?? 0;
        for (;;) {
          const page = await api.taskEvents(id, { after });
          for (const e of page.data) print((last = e));
          if (page.data.length === 0 || after >= page.lastSeq) break;
          after = page.data.at(-1)!.seq;
          if (after >= page.lastSeq) break;
        }
        return;
      }
      for await (const e of api.events(id, { after: o.after })) print((last = e));
      code = endedCode(last ?? (await lastEvent(api, id)));
    });

  program
    .command('status')
    .description("a task's status, budget and companies")
    .argument('<id>', 'the task id', taskId)
    .option('--json', 'the task view as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const task = await client().api.getTask(id);
      io.stdout.write(o.json ? `${JSON.stringify(task, null, 2)}\n` : statusText(task));
      code = task.status === 'failed' || task.status === 'cancelled' ? EXIT.task : EXIT.ok;
    });

  program
    .command('report')
    .description("a completed task's report (markdown, or --html)")
    .argument('<id>', 'the task id', taskId)
    .option('-o, --output <file>', 'write it to a file')
    .option('--html', 'the sanitised HTML page')
    .action(async (id: string, o: { output?: string; html?: boolean }) => {
      await printReport(client().api, id, io, o);
    });

  program
    .command('list')
    .description('your tasks, newest first')
    .option('--limit <n>', 'how many (1–100)', wholeNumber, 20)
    .option('--json', 'the page as JSON')
    .action(async (o: { limit: number; json?: boolean }) => {
      const page = await client().api.listTasks({ limit: o.limit });
      if (o.json) {
        io.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
        return;
      }
      for (const t of page.data) io.stdout.write(`${t.id}  ${t.status.padEnd(9)}  ${t.budget.spent.padStart(9)} / ${t.budget.limit.padEnd(9)} CNY  ${t.createdAt}  ${t.theme}\n`);
      if (page.data.length === 0) io.stderr.write('no tasks yet\n');
    });

  program
    .command('cancel')
    .description('cancel a task (it stops at its next stage, its money released)')
    .argument('<id>', 'the task id', taskId)
    .action(async (id: string) => {
      try {
        const task = await client().api.cancelTask(id);
        io.stdout.write(`cancel requested: task ${task.id} is ${task.status}${task.cancelRequested ? ' (stopping)' : ''}\n`);
      } catch (err) {
        if (err instanceof GatewayProblem && err.code === 'task_already_ended') throw new TaskOutcome(err.problem.detail);
        throw err;
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return failure(err, io, program);
  }
}

/** What an error means for the exit code, said on stderr. */
function failure(err: unknown, io: CliIo, program: Command): number {
  if (err instanceof CommanderError) {
    // --help and --version are not errors; commander has printed them (or the usage error) already.
    return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof TaskOutcome) {
    io.stderr.write(`${err.message}\n`);
    return EXIT.task;
  }
  if (err instanceof Unusable) {
    io.stderr.write(`error: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof GatewayProblem) {
    io.stderr.write(`error: the gateway refused: ${err.status} ${err.code}: ${err.problem.detail}${err.errors.length ? ` (${err.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})` : ''}\n`);
    return EXIT.usage;
  }
  if (err instanceof UnexpectedAnswer) {
    io.stderr.write(`error: ${err.message}\n`);
    return EXIT.usage;
  }
  const url = program.opts<{ url?: string }>().url;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  io.stderr.write(`error: cannot reach the gateway${url ? ` at ${url}` : ''}: ${cause?.code ?? cause?.message ?? (err as Error).message}\n`);
  return EXIT.usage;
}

/** Follows a task's events to its end, showing progress on stderr; returns the `ended` event. */
async function follow(api: GatewayClient, id: string, limit: number, io: CliIo): Promise<TaskEvent> {
  const progress = progressFor(io.stderr, limit);
  try {
    for await (const e of api.events(id)) {
      progress.event(e);
      if (e.type === 'ended') return e;
    }
  } finally {
    progress.stop();
  }
  return lastEvent(api, id);
}

/** After the story's end: the report when completed (exit 0), else the reason (exit 1). */
async function finish(api: GatewayClient, id: string, ended: TaskEvent, io: CliIo, o: { output?: string; html?: boolean }): Promise<number> {
  if (ended.data.status !== 'completed') return EXIT.task;
  await printReport(api, id, io, o);
  return EXIT.ok;
}

async function printReport(api: GatewayClient, id: string, io: CliIo, o: { output?: string; html?: boolean }): Promise<void> {
  let text: string;
  try {
    text = await api.report(id, o.html ? 'html' : 'markdown');
  } catch (err) {
    if (err instanceof GatewayProblem && err.code === 'report_not_ready') throw new TaskOutcome(`no report: ${err.problem.detail}`);
    throw err;
  }
  if (o.output) {
    writeFileSync(o.output, text);
    io.stderr.write(`report written to ${o.output}\n`);
  } else io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** The last stored event of a task (its `ended`, once it has ended). */
async function lastEvent(api: GatewayClient, id: string): Promise<TaskEvent> {
  const page = await api.taskEvents(id, { after: 0 });
  let last = page.data.at(-1);
  while (page.lastSeq > (last?.seq ?? 0)) {
    const next = await api.taskEvents(id, { after: last!.seq });
    if (next.data.length === 0) break;
    last = next.data.at(-1);
  }
  if (!last) throw new Unusable(`task ${id} has no events`);
  return last;
}

function endedCode(e: TaskEvent): number {
  if (e.type !== 'ended') return EXIT.ok;
  return e.data.status === 'completed' ? EXIT.ok : EXIT.task;
}

function statusText(t: TaskView): string {
  const lines = [
    `task     ${t.id}`,
    `theme    ${t.theme}`,
    `status   ${t.status}${t.stage ? ` (stage ${t.stage})` : ''}${t.cancelRequested ? ' — cancel requested' : ''}`,
    `budget   spent ${t.budget.spent}, reserved ${t.budget.reserved}, refunded ${t.budget.refunded}, remaining ${t.budget.remaining} of ${t.budget.limit} ${t.budget.currency}`,
    ...(t.error ? [`error    ${t.error.code}${t.error.message ? `: ${t.error.message}` : ''}`] : []),
    `created  ${t.createdAt}${t.endedAt ? `, ended ${t.endedAt}` : ''}`,
    ...(t.companies.length ? ['companies:'] : []),
    ...t.companies.filter((c) => c.status !== 'skipped' || c.decision?.action === 'buy').map((c) => `  ${c.status.padEnd(8)} ${c.price.padStart(7)} CNY  ${c.id}  ${c.name}${c.reason ? ` — ${c.reason.code}` : ''}`),
  ];
  const skipped = t.companies.filter((c) => c.status === 'skipped' && c.decision?.action !== 'buy').length;
  if (skipped) lines.push(`  (${skipped} more found and not chosen)`);
  return `${lines.join('\n')}\n`;
}

/** The value of a global option as given on the command line (commander's .env() reads process.env only). */
function optsFrom(program: Command, name: 'url' | 'key'): string | undefined {
  return program.getOptionValueSource(name) === 'cli' ? program.opts<Record<string, string>>()[name] : undefined;
}

function amount(value: string): string {
  try {
    if (parseMoney(value) <= 0) throw new Error();
  } catch {
    throw new InvalidArgumentError('must be an amount of CNY greater than 0, like 50 or 49.90');
  }
  return value;
}

function wholeNumber(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

function taskId(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError('must be a task id (a UUID)');
  return value.toLowerCase();
}

// Run as a program (npm run cli), not when imported by a test.
if (import.meta.url === `file://${process.argv[1]}`) {
  runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exit(2);
    },
  );
}
