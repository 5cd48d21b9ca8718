import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { ApiKey } from '../../../shared/db/schema.ts';
import { newApiKey } from '../../../shared/tenants/api-key.ts';
import type { AdminEnv } from '../admin-auth.ts';
import { tenantParam } from '../admin-params.ts';
import type { ClientAddresses } from '../client-address.ts';
import type { GatewayDeps } from '../deps.ts';
import { announceRevocation } from '../key-revocations.ts';
import { operatorContext, operatorOnly } from '../operator.ts';
import { problem } from '../problem.ts';
import { ONE_LINE, oneLine, readJson, validate } from '../validate.ts';

/** The body of POST /admin/tenants/:tenant/keys. */
export const createKeyBody = z.strictObject({
  name: z.string().refine(oneLine, ONE_LINE).trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
});

const KEY_ID = /^key_[0-9a-f]{16}$/;

/** A key as the admin API shows it: never the key, nor its digest. */
export function keyView(k: ApiKey) {
  return {
    id: k.id,
    tenant: k.tenant,
    name: k.name,
    hint: k.hint,
    active: k.revoked_at === null,
    createdAt: k.created_at.toISOString(),
    createdBy: k.created_by,
    lastUsedAt: k.last_used_at?.toISOString() ?? null,
    revokedAt: k.revoked_at?.toISOString() ?? null,
    ...(k.revoked_by ? { revokedBy: k.revoked_by } : {}),
  };
}

/**
 * Tenants' API keys (issue 8), mounted at `/admin`, behind the admin login `auth`:
 * POST /tenants/:tenant/keys `{ name }` → 201 with the key (the only time it is shown);
 * GET /tenants/:tenant/keys → the tenant's keys (no key material), with how many bootstrap keys
 * API_KEYS gives it; DELETE /tenants/:tenant/keys/:keyId → revoked in every gateway at once.
 * Changes need the operator login and are written with their audit row in one transaction.
 * `forget` drops a revoked key from this gateway's own cache before the answer goes out.
 */
export function adminKeyRoutes(deps: GatewayDeps, auth: MiddlewareHandler<AdminEnv>, addresses: ClientAddresses, forget: (keyId: string) => void) {
  const bootstrapKeys = (tenant: string) => [...deps.config.API_KEYS.values()].filter((t) => t === tenant).length;
  return new Hono<AdminEnv>({ strict: false })
    .post('/tenants/:tenant/keys', auth, operatorOnly, async (c) => {
      const tenant = tenantParam(c.req.param('tenant'));
      const { name } = validate(createKeyBody, await readJson(c), 'key');
      const made = newApiKey();
      const key = await deps.repos.apiKeys.create(tenant, name, made, operatorContext(c, addresses));
      c.header('Cache-Control', 'no-store');
      return c.json({ ...keyView(key), key: made.key }, 201);
    })
    .get('/tenants/:tenant/keys', auth, async (c) => {
      const tenant = tenantParam(c.req.param('tenant'));
      const keys = await deps.repos.apiKeys.list(tenant);
      return c.json({ tenant, data: keys.map(keyView), bootstrapKeys: bootstrapKeys(tenant) });
    })
    .delete('/tenants/:tenant/keys/:keyId', auth, operatorOnly, async (c) => {
      const tenant = tenantParam(c.req.param('tenant'));
      const keyId = c.req.param('keyId');
      if (!KEY_ID.test(keyId)) return problem(c, 'not_found', `tenant ${tenant} has no key ${keyId.slice(0, 40)}`);
      const result = await deps.repos.apiKeys.revoke(tenant, keyId, operatorContext(c, addresses));
      if (result.kind === 'not_found') return problem(c, 'not_found', `tenant ${tenant} has no key ${keyId}`);
      if (result.kind === 'revoked') {
        forget(keyId);
        await announceRevocation(deps.redis, deps.config.QUEUE_PREFIX, keyId, deps.log);
      }
      return c.json(keyView(result.key));
    });
}
