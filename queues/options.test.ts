import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, jobId, jobOptions } from './options.ts';

const b = { baseMs: 500, maxMs: 30_000 };

describe('retry backoff', () => {
  it('waits what the provider asked for in Retry-After, within reason', () => {
    expect(backoffDelay(1, b, 7_000)).toBe(7_000);
    expect(backoffDelay(6, b, 0)).toBe(0);
    expect(backoffDelay(1, b, 10 * 3600_000)).toBe(120_000); // never more than 4× the cap
  });

  it('grows exponentially with jitter between half and all of the ceiling, and is capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
        const ceiling = Math.min(b.maxMs, b.baseMs * 2 ** (attempt - 1));
        const d = backoffDelay(attempt, b, undefined, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(ceiling);
      }),
    );
    expect(backoffDelay(1, b, undefined, () => 0)).toBe(250);
    expect(backoffDelay(4, b, undefined, () => 0.999999)).toBe(4_000);
  });
});

describe('job options', () => {
  it('gives every job a deterministic id BullMQ accepts (no ":", not all digits)', () => {
    const task = '5fc547cb-0588-42c2-a16d-cb4913dd59cf';
    const ids = [jobId.search(task), jobId.authorize(task), jobId.detail(task, 'co:1/2'), jobId.report(task), jobId.dashboard(42)];
    for (const id of ids) {
      expect(id).not.toContain(':');
      expect(id).not.toMatch(/^\d+$/);
    }
    expect(jobId.detail(task, 'co:1/2')).toBe(jobId.detail(task, 'co:1/2'));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lets a detail child that failed for good release its report parent', () => {
    expect(jobOptions('detail', 'x').ignoreDependencyOnFailure).toBe(true);
    expect(jobOptions('report', 'y').ignoreDependencyOnFailure).toBeUndefined();
    for (const q of ['search', 'authorize', 'detail', 'report', 'dashboard'] as const) {
      expect(jobOptions(q, 'z').attempts).toBeGreaterThan(1);
      // Completed jobs are kept for a while (Bull Board) but not forever.
      expect(jobOptions(q, 'z').removeOnComplete).toMatchObject({ age: expect.any(Number), count: expect.any(Number) });
    }
  });
});
