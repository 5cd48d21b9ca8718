import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { logSink } from '../test/support/log-sink.ts';
import { addLogFields, createLogger, prettyDestination, wantsPrettyLogs, withLogFields } from './log.ts';

describe('log lines carry what they are about (issue 15)', () => {
  it('every line written inside a task scope has its task id, stage and job id, in any module; lines outside have none', async () => {
    const sink = logSink();
    const log = createLogger('info', 'test', sink.stream);
    const elsewhere = log.child({ component: 'provider' });
    log.info('before');
    await withLogFields({ taskId: 'task-1', stage: 'detail', jobId: 'detail-task-1-c1' }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      elsewhere.warn({ companyId: 'c1' }, 'a line from deep inside');
      await withLogFields({ companyId: 'c2' }, async () => log.info('nested'));
      log.info('after the nested scope');
    });
    log.info('after');
    const [before, deep, nested, afterNested, after] = sink.lines();
    expect(before).not.toHaveProperty('taskId');
    expect(deep).toMatchObject({ taskId: 'task-1', stage: 'detail', jobId: 'detail-task-1-c1', companyId: 'c1', component: 'provider', msg: 'a line from deep inside' });
    expect(nested).toMatchObject({ taskId: 'task-1', companyId: 'c2' });
    // A line's own fields stay on that line: they never leak into the scope of the lines after it.
    expect(afterNested).toMatchObject({ taskId: 'task-1' });
    expect(afterNested).not.toHaveProperty('companyId');
    expect(after).not.toHaveProperty('taskId');
  });

  it('a request learns its task on the way (POST creates it): the lines from then on carry it', async () => {
    const sink = logSink();
    const log = createLogger('info', 'test', sink.stream);
    await withLogFields({}, async () => {
      log.info('validating');
      addLogFields({ taskId: 'task-2' });
      log.info('request');
    });
    addLogFields({ taskId: 'outside any scope: ignored' });
    log.info('next request');
    expect(sink.lines().map((l) => l.taskId)).toEqual([undefined, 'task-2', undefined]);
  });

  it('without tracing, no trace or span id is invented', async () => {
    const sink = logSink();
    await withLogFields({ taskId: 't' }, async () => createLogger('info', 'test', sink.stream).info('x'));
    expect(sink.lines()[0]).not.toHaveProperty('trace_id');
    expect(sink.lines()[0]).not.toHaveProperty('span_id');
  });
});

describe('LOG_FORMAT: JSON in production, readable for people at a terminal', () => {
  it('auto is pretty only for `npm start` on a terminal outside production', () => {
    expect(wantsPrettyLogs('auto', { program: 'start', terminal: true, production: false })).toBe(true);
    expect(wantsPrettyLogs('auto', { program: 'start', terminal: false, production: false })).toBe(false);
    expect(wantsPrettyLogs('auto', { program: 'start', terminal: true, production: true })).toBe(false);
    expect(wantsPrettyLogs('auto', { program: 'worker', terminal: true, production: false })).toBe(false);
    expect(wantsPrettyLogs('auto', { program: 'gateway', terminal: true, production: false })).toBe(false);
    expect(wantsPrettyLogs('pretty', { program: 'worker', terminal: false, production: true })).toBe(true);
    expect(wantsPrettyLogs('json', { program: 'start', terminal: true, production: false })).toBe(false);
  });

  it('pretty lines read as text, with the task id, and are masked and redacted like JSON lines', async () => {
    let text = '';
    const out = new Writable({
      write(chunk, _e, done) {
        text += chunk.toString();
        done();
      },
    });
    const log = createLogger('info', 'arp', await prettyDestination(out));
    withLogFields({ taskId: 'task-3' }, () => log.info({ redis: 'redis://:Pretty-Pa55@cache:6379', tokenId: 'tok_PRETTY_SECRET' }, 'detail job completed'));
    expect(text).toMatch(/INFO.*detail job completed/);
    expect(text).toContain('taskId: "task-3"');
    expect(() => JSON.parse(text)).toThrow();
    expect(text).not.toContain('Pretty-Pa55');
    expect(text).not.toContain('tok_PRETTY_SECRET');
  });
});
