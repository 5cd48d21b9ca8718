/**
 * `npm run mocks`: serves the provider mocks as separate HTTP servers, each on the port of its URL variable
 * (MARKETPLACE_URL, TOKEN_ISSUER_URL, VOICEID_URL, OPENAI_BASE_URL) or on a free port when unset, and stops
 * within 5 s on SIGTERM/SIGINT.
 */
import { resolve } from 'node:path';
import { pino } from 'pino';
import { parseMocksEnv, URL_VARIABLES, type MocksConfig } from './config.ts';
import { readMockTls, startMocks, type MockTls } from './index.ts';

const log = pino({ name: 'mocks' });

let config: MocksConfig;
let tls: MockTls | undefined;
try {
  config = parseMocksEnv(process.env);
  tls = config.tls && readMockTls(config.tls);
} catch (err) {
  console.error(`mocks: ${(err as Error).message}`);
  process.exit(1);
}

const dataDir = resolve(config.dataDir);
const running = await startMocks({
  only: config.serve.map((s) => s.name),
  ports: Object.fromEntries(config.serve.map((s) => [s.name, s.port])),
  host: config.host,
  issuerApiKey: config.issuerApiKey,
  receiptSecret: config.receiptSecret,
  voiceEnrolled: config.voiceEnrolled,
  dataDir,
  faults: config.faults ?? {},
  ...(config.issuerFaults ? { issuerFaults: config.issuerFaults } : {}),
  ...(tls ? { tls } : {}),
}).catch((err: Error) => {
  console.error(`mocks: could not start: ${err.message}`);
  process.exit(1);
});

for (const { name, configuredUrl } of config.serve) {
  const url = running.urls[name];
  log.info({ mock: name, url, variable: URL_VARIABLES[name], ...(configuredUrl ? { configuredUrl } : {}) }, `${name} listening on ${url}`);
}
for (const { name, reason } of config.skipped) log.info({ mock: name }, `${name} not served: ${reason}`);
if (config.faults) log.info({ faults: config.faults }, 'fault injection on (marketplace, MOCK_FAULTS)');
if (config.issuerFaults) log.info({ faults: config.issuerFaults }, 'fault injection on (token issuer, MOCK_ISSUER_FAULTS)');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  setTimeout(() => {
    log.error('shutdown took longer than 5 s; exiting');
    process.exit(1);
  }, 5000).unref();
  await running.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
