import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';
import { tokenHint } from './redact.ts';

describe('tokenHint', () => {
  it('keeps the prefix and the last two characters, nothing to spend with', () => {
    expect(tokenHint('tok_8f3a1c2b9e')).toBe('tok_…9e');
    expect(tokenHint('abcdef')).toBe('…ef');
    expect(tokenHint('tok_8f3a1c2b9e')).not.toContain('8f3a');
  });
});

describe('the logger masks secrets wherever they sit', () => {
  it('redacts token ids, receipts, keys and authorization headers, at the top and one level down', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('info', 'test', sink);
    log.info({ tokenId: 'tok_SECRET1', task: { token_id: 'tok_SECRET2', receipt: 'rcpt-SECRET3' }, req: { headers: { authorization: 'Bearer SECRET4' } }, apiKey: 'SECRET5' }, 'paying');
    const line = lines.join('');
    expect(line).toContain('paying');
    expect(line).not.toMatch(/SECRET/);
    expect(JSON.parse(line)).toMatchObject({ tokenId: '[redacted]', task: { token_id: '[redacted]', receipt: '[redacted]' } });
  });
});
