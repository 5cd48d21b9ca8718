import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { logSink } from '../test/support/log-sink.ts';
import { childWith, createLogger, prettyDestination, wantsPrettyLogs } from './log.ts';

describe('log lines carry what they are about (issue 15)', () => {
  it('a stage job\'s logger puts its task id, stage and job id on every line, once, even when a line names them too', () => {
    const sink = logSink();
    const log = createLogger('info', 'test', sink.stream);
    const job = childWith(log, { taskId: 'task-1', stage: 'detail', jobId: 'detail-task-1-c1', companyId: undefined });
    job.info('detail job completed');
    job.warn({ taskId: 'task-1', companyId: 'c1', holder: 'x' }, 'another task is buying it');
    job.warn({ taskId: 'another-task' }, 'names another task');
    job.error(new Error('boom'));
    log.info('a line of the process');
    const [done, named, other, failed, plain] = sink.lines();
    expect(done).toMatchObject({ taskId: 'task-1', stage: 'detail', jobId: 'detail-task-1-c1', msg: 'detail job completed' });
    expect(done).not.toHaveProperty('companyId');
    expect(named).toMatchObject({ taskId: 'task-1', companyId: 'c1', holder: 'x' });
    expect(failed).toMatchObject({ taskId: 'task-1', err: { message: 'boom' } });
    expect(plain).not.toHaveProperty('taskId');
    // A value that differs is kept (JSON.parse keeps the last of two equal keys: the line's own).
    expect(other!.taskId).toBe('another-task');
  });

  it('a line never repeats a key its job logger binds (no duplicate keys in the JSON)', () => {
    const text: string[] = [];
    const out = new Writable({
      write(chunk, _e, done) {
        text.push(chunk.toString());
        done();
      },
    });
    const job = childWith(createLogger('info', 'test', out), { taskId: 'task-9', stage: 'search' });
    job.warn({ taskId: 'task-9', violations: 2 }, 'clipped');
    expect(text.join('').match(/"taskId"/g)).toHaveLength(1);
  });

  it('without tracing, no trace or span id is invented', () => {
    const sink = logSink();
    childWith(createLogger('info', 'test', sink.stream), { taskId: 't' }).info('x');
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
    childWith(log, { taskId: 'task-3' }).info({ redis: 'redis://:Pretty-Pa55@cache:6379', tokenId: 'tok_PRETTY_SECRET' }, 'detail job completed');
    expect(text).toMatch(/INFO.*detail job completed/);
    expect(text).toContain('taskId: "task-3"');
    expect(() => JSON.parse(text)).toThrow();
    expect(text).not.toContain('Pretty-Pa55');
    expect(text).not.toContain('tok_PRETTY_SECRET');
  });
});
