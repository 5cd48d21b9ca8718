import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';

/** How the marketplace lies. Unset fields tell the truth. */
export interface Lies {
  /** The 402 asks this price (decimal string) instead of the real one. */
  price?: string;
  /** The 402 names this resource instead of the company's own. */
  resource?: string;
  /** /pay waits this long before it charges the token, whether or not the buyer is still waiting. */
  chargeAfterMs?: number;
  /** After charging the token, /pay answers this status and error code instead of a receipt. */
  payFailsAfterCharge?: { status: number; code: string };
  /** The receipt claims this resource / amount instead of what was paid for. */
  receiptResource?: string;
  receiptAmount?: string;
  /** The paid record is another company's. */
  recordId?: string;
  /** The paid record lacks these fields. */
  omit?: string[];
  /** The detail answers 200 with the record without any payment (a free record). */
  free?: boolean;
  /** The unpaid detail answers this status (e.g. 404: the company is gone). */
  probeStatus?: number;
}

export interface HostileMarketplace {
  url: string;
  lies: Lies;
  /** The /pay calls it received, as sent. */
  payCalls: Array<{ idempotencyKey: string | undefined; body: any }>;
  close(): Promise<void>;
}

/**
 * A marketplace that speaks the contract of DESIGN.md §4 but lies where it is told to: its prices and
 * resources come from the real stand-in (so they match what the search listed), and its /pay charges
 * the real issuer with the buyer's token, as a real marketplace would, so the money really moves.
 */
export async function startHostileMarketplace(opts: { realMarketplaceUrl: string; issuerUrl: string; issuerApiKey: string; lies?: Lies }): Promise<HostileMarketplace> {
  const state: HostileMarketplace = { url: '', lies: opts.lies ?? {}, payCalls: [], close: async () => undefined };
  const app = new Hono();
  const issuer = (path: string, init: RequestInit = {}) =>
    fetch(`${opts.issuerUrl}${path}`, { ...init, headers: { authorization: `Bearer ${opts.issuerApiKey}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });

  app.get('/company/detail', async (c) => {
    const id = c.req.query('id') ?? '';
    const receipt = c.req.header('x-payment-receipt');
    const gone = state.lies.probeStatus;
    if (gone && !receipt) return c.json({ errors: [{ status: String(gone), code: gone >= 500 ? 'service_unavailable' : 'not_found' }] }, gone as 404);
    if (!receipt && !state.lies.free) {
      const real = await fetch(`${opts.realMarketplaceUrl}/company/detail?id=${encodeURIComponent(id)}`);
      const doc = (await real.json()) as any;
      if (real.status !== 402) return c.json(doc, real.status as 404);
      const { lies } = state;
      if (lies.price) doc.meta.price.amount = lies.price;
      if (lies.resource) doc.meta.resource = lies.resource;
      return c.json(doc, 402);
    }
    const attributes: Record<string, unknown> = {
      name: `Record of ${state.lies.recordId ?? id}`,
      unifiedSocialCreditCode: '91310000MA1FL0000X',
      financials: { revenue: '1000000.00' },
      shareholders: [{ name: 'Founder', share: '100%' }],
      contacts: { email: 'ir@example.com' },
      riskNotes: [],
    };
    for (const field of state.lies.omit ?? []) delete attributes[field];
    return c.json({ data: { type: 'company_detail', id: state.lies.recordId ?? id, attributes } });
  });

  app.post('/pay', async (c) => {
    const key = c.req.header('idempotency-key');
    const body = (await c.req.json()) as { tokenId: string; amount: string; resource: string };
    state.payCalls.push({ idempotencyKey: key, body });
    if (state.lies.chargeAfterMs) await new Promise((r) => setTimeout(r, state.lies.chargeAfterMs));
    const charged = await issuer(`/v1/tokens/${encodeURIComponent(body.tokenId)}/charges`, {
      method: 'POST',
      headers: { 'idempotency-key': key ?? '' },
      body: JSON.stringify({ amount: body.amount, merchantId: 'marketplace', description: body.resource }),
    });
    const charge = (await charged.json()) as any;
    if (charged.status >= 300) return c.json({ errors: [{ status: String(charged.status), code: charge.error?.code ?? 'declined' }] }, charged.status as 402);
    const { lies } = state;
    if (lies.payFailsAfterCharge) {
      return c.json({ errors: [{ status: String(lies.payFailsAfterCharge.status), code: lies.payFailsAfterCharge.code }] }, lies.payFailsAfterCharge.status as 402);
    }
    return c.json(
      {
        data: {
          type: 'payment_receipt',
          id: `rcpt_${charge.id}`,
          attributes: { receipt: `hostile-${charge.id}`, amount: lies.receiptAmount ?? body.amount, currency: 'CNY', resource: lies.receiptResource ?? body.resource, chargeId: charge.id },
        },
      },
      201,
    );
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
