import cliProgress from 'cli-progress';
import { formatMoney, parseMoney } from '../../shared/money.ts';
import type { TaskEvent } from '../gateway/client.ts';

/** The money of a task as its `payment` events move it, in fen. */
export class MoneyTally {
  reserved = 0;
  spent = 0;

  constructor(readonly limit: number) {}

  apply(movement: string, amount: number): void {
    if (movement === 'reserve') this.reserved += amount;
    else if (movement === 'capture') {
      this.reserved -= amount;
      this.spent += amount;
    } else if (movement === 'release') this.reserved -= amount;
    else if (movement === 'refund') this.spent -= amount;
  }

  get line(): string {
    return `spent ${formatMoney(this.spent)}, reserved ${formatMoney(this.reserved)} of ${formatMoney(this.limit)} CNY`;
  }
}

/** One line in words for an event of a task's story (what the CLI prints as it follows a task). */
export function describe(e: TaskEvent, money?: MoneyTally): string {
  const d = e.data as Record<string, any>;
  switch (e.type) {
    case 'created':
      return 'queued';
    case 'stage':
      return `stage ${d.stage}`;
    case 'searched':
      return `searched ${d.queries.length} quer${d.queries.length === 1 ? 'y' : 'ies'} (${d.queries.join(', ')}): ${d.found} found, ${d.chosen} chosen${d.owned ? `, ${d.owned} already owned` : ''} (planned by ${d.plannedBy}, decided by ${d.decidedBy})`;
    case 'candidates':
      return `${d.count} candidate${d.count === 1 ? '' : 's'}, ${d.chosen} to buy`;
    case 'decision':
      return `decision ${d.action === 'buy' ? 'buy ' : 'skip'} ${d.companyId} ${d.name} (${d.price} CNY) — ${d.reason}${d.by === 'model' ? ' [model]' : ''}`;
    case 'voice_checked':
      return d.verified ? `voice verified${d.score !== null ? ` (score ${d.score})` : ''}` : 'voice NOT verified';
    case 'token_issued':
      return `payment token issued: limit ${d.limit} CNY, expires ${d.expiresAt}`;
    case 'payment':
      return `money ${d.movement.padEnd(7)} ${d.amount} CNY ${d.companyId}${money ? ` — ${money.line}` : ''}`;
    case 'foreign_charge':
      return `WARNING: charges on the task's token we did not make: ${d.total} CNY`;
    case 'cancel_requested':
      return 'cancel requested';
    case 'report_ready':
      return `report ready (written by ${d.writer})`;
    case 'ended':
      return `ended: ${d.status}${d.error ? ` — ${d.error.code}: ${d.error.message}` : ''}${money ? ` (${money.line})` : ''}`;
    default:
      return `${e.type} ${JSON.stringify(d)}`;
  }
}

/** Where the CLI tells a task's progress: plain lines, or lines above a live money bar on a terminal. */
export interface Progress {
  event(e: TaskEvent): void;
  line(text: string): void;
  stop(): void;
}

/**
 * Plain lines when the output is not a terminal (a pipe, a file, CI): one per event, money moves with
 * the running totals in words. On a terminal, the same lines scroll above a bar of the money
 * (cli-progress): spent of the budget, with what is reserved.
 */
export function progressFor(out: NodeJS.WriteStream, limit: number): Progress {
  const money = new MoneyTally(limit);
  const take = (e: TaskEvent) => {
    if (e.type === 'payment') money.apply(String(e.data.movement), parseMoney(String(e.data.amount)));
  };
  if (!out.isTTY) {
    return {
      event: (e) => {
        take(e);
        out.write(`${describe(e, e.type === 'payment' || e.type === 'ended' ? money : undefined)}\n`);
      },
      line: (text) => void out.write(`${text}\n`),
      stop: () => undefined,
    };
  }
  const bars = new cliProgress.MultiBar(
    {
      stream: out,
      format: 'money |{bar}| {spent} spent, {reserved} reserved of {limit} CNY',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(Math.max(1, limit), 0, { spent: '0.00', reserved: '0.00', limit: formatMoney(limit) });
  return {
    event: (e) => {
      take(e);
      bars.log(`${describe(e)}\n`);
      bar.update(Math.max(0, money.spent), { spent: formatMoney(money.spent), reserved: formatMoney(money.reserved), limit: formatMoney(limit) });
    },
    line: (text) => bars.log(`${text}\n`),
    stop: () => {
      // MultiBar writes logged lines at its next redraw, and stop() does not redraw: flush them first.
      (bars as unknown as { update(): void }).update();
      bars.stop();
    },
  };
}
