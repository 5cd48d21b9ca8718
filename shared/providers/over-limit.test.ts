import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../errors.ts';
import { PROVIDER_LIMITS } from './limits.ts';
import { MarketplaceClient } from './marketplace.ts';
import { VoiceIdClient } from './voiceid.ts';

/**
 * A provider that answers more than PROVIDER_LIMITS.answerBytes: every client refuses the answer unread and
 * says so by the limit — not as a malformed body — transient where asking again may help (or the issuer's
 * books decide, for a payment), final for a paid record that would come as long again.
 */
let server: Server;
let base: string;
let status = 200;

beforeAll(async () => {
  const longer = Buffer.concat([Buffer.from('{"data":"'), Buffer.alloc(PROVIDER_LIMITS.answerBytes + 1024, 0x61), Buffer.from('"}')]);
  server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(longer.length) }).end(longer);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const overLimit = (what: string) => `${what} answered more than ${PROVIDER_LIMITS.answerBytes} bytes: not read`;

async function refusal(call: () => Promise<unknown>): Promise<Error & { code?: string }> {
  const err = await call().then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  if (!err) throw new Error('the answer over the limit was accepted');
  return err;
}

describe('an answer longer than a provider answer may be', () => {
  const marketplace = () => new MarketplaceClient(base, 10_000);

  it('from the marketplace search: transient, named by its limit', async () => {
    status = 200;
    const err = await refusal(() => marketplace().search('battery'));
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'bad_response', message: overLimit('marketplace search') });
  });

  it("as the marketplace's 402 (the offer): transient, named by its limit", async () => {
    status = 402;
    const err = await refusal(() => marketplace().probe('c-1'));
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'bad_response', message: overLimit('marketplace 402 for c-1') });
  });

  it('as the answer to a payment: transient (the issuer tells whether it was charged), named by its limit', async () => {
    status = 201;
    const err = await refusal(() => marketplace().pay({ tokenId: 'tok', amount: '1.00', resource: '/company/detail?id=c-1', idempotencyKey: 'k' }));
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'bad_response', message: overLimit('marketplace pay') });
  });

  it('as a paid record, or a free one: final (bad_data: the record is refunded), named by its limit', async () => {
    status = 200;
    for (const call of [() => marketplace().fetchDetail('c-1', 'receipt'), () => marketplace().probe('c-1')]) {
      const err = await refusal(call);
      expect(err).toBeInstanceOf(PermanentError);
      expect(err).toMatchObject({ code: 'bad_data', message: overLimit('marketplace detail c-1') });
    }
  });

  it('from voice ID: transient, named by its limit', async () => {
    status = 200;
    const err = await refusal(() => new VoiceIdClient(base, 10_000).verify({ voiceId: 'v', subject: 's', reference: 'r', amount: '1.00' }));
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'bad_response', message: overLimit('voice ID') });
  });
});
