/**
 * What Linux says about a process (/proc): its CPU time and its memory. NaN where /proc has no answer
 * (another OS, or the process is gone).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux we run on). */
const TICKS_PER_S = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    // The command name (field 2) may hold spaces: the fields after it start after the last ') '.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S; // utime, stime
  } catch {
    return NaN;
  }
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Resident memory now, MiB. */
export const rssMiB = (pid: number) => statusKiB(pid, 'VmRSS') / 1024;

/** Peak resident memory since the process started, MiB. */
export const peakRssMiB = (pid: number) => statusKiB(pid, 'VmHWM') / 1024;

/**
 * The CPU of a changing set of processes over a window (Postgres backends come and go with the pools):
 * each pid's CPU when first seen (0 when it appeared after the start: all it used counts) and when last
 * seen. A process that exits between two samples loses what it used since the last one.
 */
export class CpuLedger {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();

  /** At the start of the window: what these pids had used before it is not counted. */
  start(pids: number[]): void {
    for (const pid of pids) {
      const s = cpuSeconds(pid);
      if (Number.isFinite(s)) this.first.set(pid, s), this.last.set(pid, s);
    }
  }

  /** During and at the end of the window. */
  sample(pids: number[]): void {
    for (const pid of pids) {
      const s = cpuSeconds(pid);
      if (!Number.isFinite(s)) continue;
      if (!this.first.has(pid)) this.first.set(pid, 0);
      this.last.set(pid, s);
    }
  }

  /** CPU seconds used in the window, summed; and how many processes took part. */
  total(): { seconds: number; processes: number } {
    let seconds = 0;
    for (const [pid, end] of this.last) seconds += end - this.first.get(pid)!;
    return { seconds, processes: this.last.size };
  }
}
