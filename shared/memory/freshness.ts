import type { Task } from '../db/schema.ts';

/** A task's freshness window: its own `maxAge`, else the configured default (seconds; 0 = always buy). */
export function maxAgeOf(task: Pick<Task, 'max_age_seconds'>, defaultSeconds: number): number {
  return task.max_age_seconds ?? defaultSeconds;
}

/** An age in words, to the largest whole unit: `45 s`, `12 min`, `5 h`, `3 d`. */
export function ageText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}
