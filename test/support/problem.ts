import { expect } from 'vitest';

/** Asserts an RFC 9457 problem answer with this status and code, and returns its body. */
export async function expectProblem(res: Response, status: number, code: string): Promise<any> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = (await res.json()) as any;
  expect(problem).toMatchObject({ status, code });
  for (const field of ['type', 'title', 'detail']) {
    expect(typeof problem[field]).toBe('string');
    expect(problem[field].length).toBeGreaterThan(0);
  }
  return problem;
}
