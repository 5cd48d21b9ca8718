/**
 * One racer process of the reservation race test: opens the shared schema and, all at once, reserves
 * many resources on one task (and captures or releases each), as many detail workers would.
 * argv: <databaseUrl> <schema> <taskId> <racer> <count>; prints a JSON summary.
 */
import { openDatabase, paymentKey, repositories } from '../../shared/db/index.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';

const [databaseUrl, schema, taskId, racer, count] = process.argv.slice(2);
const database = await openDatabase({ databaseUrl, schema: schema!, dataDir: '/tmp', poolSize: 12 });
const repos = repositories(database, keyringFrom(undefined));
let reserved = 0;
let refused = 0;
await Promise.all(
  Array.from({ length: Number(count) }, async (_, i) => {
    const resource = `/company/detail?id=r${racer}-${i}`;
    const amount = 100 + ((Number(racer) * 7919 + i * 104729) % 1900);
    const r = await repos.payments.reserve({ taskId: taskId!, companyId: `r${racer}-${i}`, tenant: 'race', resource, amount, key: paymentKey(taskId!, resource) });
    if (r.kind !== 'reserved') {
      refused++;
      return;
    }
    reserved++;
    // Half are captured (bought), half released (failed), as the purchases settle.
    if (i % 2 === 0) await repos.payments.capture(r.payment.id, `ch-${racer}-${i}`);
    else await repos.payments.release(r.payment.id, 'race');
  }),
);
await database.close();
process.stdout.write(JSON.stringify({ racer, reserved, refused }));
