import { Writable } from 'node:stream';

/** A log destination that keeps every line, for tests that assert what operators are told. */
export function logSink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      raw.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
