import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowListProblems, WebhookAllowList } from './allow-list.ts';
import { signature, urlRefusal, verifySignature, WebhookSender } from './send.ts';

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  const allow = new WebhookAllowList(['hooks.example.com', '*.acme.test', '203.0.113.7', '10.1.0.0/16']);

  it('lets a URL name only a listed host, a name under a listed suffix, or a listed address', () => {
    expect(allow.hostAllowed('hooks.example.com')).toBe(true);
    expect(allow.hostAllowed('HOOKS.example.com.')).toBe(true);
    expect(allow.hostAllowed('a.b.acme.test')).toBe(true);
    expect(allow.hostAllowed('acme.test')).toBe(false);
    expect(allow.hostAllowed('evil-acme.test')).toBe(false);
    expect(allow.hostAllowed('hooks.example.com.evil.test')).toBe(false);
    expect(allow.hostAllowed('203.0.113.7')).toBe(true);
    expect(allow.hostAllowed('10.1.200.3')).toBe(true);
    expect(allow.hostAllowed('10.2.0.1')).toBe(false);
    expect(allow.hostAllowed('[::ffff:10.1.0.9]')).toBe(true);
  });

  it('connects only to public addresses, or private ones that are listed themselves', () => {
    expect(allow.addressAllowed('93.184.216.34')).toBe(true);
    expect(allow.addressAllowed('2606:4700::1111')).toBe(true);
    for (const inside of ['127.0.0.1', '10.2.0.1', '192.168.1.1', '172.16.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '64:ff9b::7f00:1', '224.0.0.1']) {
      expect(allow.addressAllowed(inside), inside).toBe(false);
    }
    expect(allow.addressAllowed('10.1.3.4')).toBe(true);
    expect(allow.addressAllowed('::ffff:10.1.3.4')).toBe(true);
  });

  it('refuses URLs that are not http(s), carry credentials, or name another host; nothing listed means webhooks are off', () => {
    expect(urlRefusal('https://hooks.example.com/x?token=1', allow)).toBeUndefined();
    expect(urlRefusal('ftp://hooks.example.com/x', allow)).toMatch(/http or https/);
    expect(urlRefusal('https://u:p@hooks.example.com/x', allow)).toMatch(/credentials/);
    expect(urlRefusal('https://other.example.com/x', allow)).toMatch(/not in WEBHOOK_ALLOWED_HOSTS/);
    // The WHATWG parser's normal form is what is checked: 2130706433 and 127.1 are 127.0.0.1.
    expect(urlRefusal('http://2130706433/', new WebhookAllowList(['127.0.0.1']))).toBeUndefined();
    expect(urlRefusal('http://127.1/', new WebhookAllowList(['localhost']))).toMatch(/127\.0\.0\.1 is not in/);
    expect(urlRefusal('https://hooks.example.com/', new WebhookAllowList([]))).toMatch(/webhooks are off/);
    expect(allowListProblems(['ok.example.com', '*.x.test', '10.0.0.0/8', '::1', 'bad host', '10.0.0.0/99'])).toEqual([
      'entry 5 is not a host name, *.suffix, address or network like 10.0.0.0/8',
      'entry 6 is not a host name, *.suffix, address or network like 10.0.0.0/8',
    ]);
  });
});

describe('X-Signature', () => {
  it('is t=<unix>,v1=<HMAC-SHA256 of "t.body">, and a receiver checks the body, the secret and the time', () => {
    const body = '{"id":"x","status":"completed"}';
    const header = signature('s3cret-s3cret-s3cret', body, 1_764_403_200);
    expect(header).toMatch(/^t=1764403200,v1=[0-9a-f]{64}$/);
    const at = { now: 1_764_403_260 };
    expect(verifySignature('s3cret-s3cret-s3cret', header, body, at)).toBe(true);
    expect(verifySignature('s3cret-s3cret-s3cret', header, `${body} `, at)).toBe(false);
    expect(verifySignature('another-secret-xx', header, body, at)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', header, body, { now: 1_764_403_200 + 301 })).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', header.replace(/t=\d+/, 't=1764403259'), body, at)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', undefined, body, at)).toBe(false);
  });
});

describe('WebhookSender', () => {
  let server: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      req.resume();
      req.on('end', () => {
        if (req.url === '/redirect') res.writeHead(302, { location: 'http://169.254.169.254/latest' }).end();
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  /** A resolver that says every name is 127.0.0.1 (as a re-pointed DNS name would). */
  const toLoopback = ((_host: string, _opts: unknown, cb: (err: null, addresses: Array<{ address: string; family: number }>) => void) =>
    cb(null, [{ address: '127.0.0.1', family: 4 }])) as never;

  it('does not connect to a listed name that resolves to a private address, unless that address is listed too', async () => {
    const before = hits;
    const refused = await new WebhookSender(new WebhookAllowList(['hooks.test']), 2_000, toLoopback).post(`http://hooks.test:${port}/in`, '{}', {});
    expect(refused).toMatchObject({ status: null, refused: true });
    expect(refused.error).toMatch(/hooks\.test resolves to 127\.0\.0\.1, which is not a public address/);
    expect(hits).toBe(before);

    const listed = await new WebhookSender(new WebhookAllowList(['hooks.test', '127.0.0.1']), 2_000, toLoopback).post(`http://hooks.test:${port}/in`, '{}', {});
    expect(listed).toMatchObject({ status: 204, error: null, refused: false });
    expect(hits).toBe(before + 1);
  });

  it('checks an address literal before connecting, and follows no redirect', async () => {
    const before = hits;
    const literal = await new WebhookSender(new WebhookAllowList(['127.0.0.0/8', 'hooks.test']), 2_000).post(`http://[::1]:${port}/in`, '{}', {});
    expect(literal).toMatchObject({ refused: true });
    const redirected = await new WebhookSender(new WebhookAllowList(['127.0.0.1']), 2_000).post(`http://127.0.0.1:${port}/redirect`, '{}', {});
    expect(redirected).toMatchObject({ status: 302, refused: false, error: 'the receiver answered 302' });
    expect(hits).toBe(before + 1);
  });
});
