import { describe, expect, it } from 'vitest';
import { parseCsv } from '../test/support/csv.ts';
import { csvField, csvLine } from './csv.ts';

describe('CSV for finance exports', () => {
  it('leaves plain fields as they are and ends each record with CRLF', () => {
    expect(csvLine(['2026-11-29T08:00:00.000Z', 'acme', 'capture', '12.50', null, undefined, 7])).toBe('2026-11-29T08:00:00.000Z,acme,capture,12.50,,,7\r\n');
  });

  it('quotes a field holding a comma, a quote or a line break, doubling its quotes', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
  });

  it.each(['=HYPERLINK("http://evil.example","x")', '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1'])('a field a spreadsheet would run (%j) is read back as text behind a quote', (value) => {
    expect(parseCsv(csvLine(['a', value, 'b']))).toEqual([['a', `'${value}`, 'b']]);
  });

  it('any text survives a round trip through a reader', () => {
    const fields = ['plain', 'a,b', 'say "hi"', 'two\r\nlines', '', 'ünïcødé'];
    expect(parseCsv(csvLine(fields) + csvLine(['x']))).toEqual([fields, ['x']]);
  });

  it('does not touch amounts or ids that start with a digit or a letter', () => {
    for (const v of ['0.01', '100000.00', 'key_0123', 'arp-1f7e-/company/detail?id=C042']) expect(csvField(v)).toBe(v);
  });
});
