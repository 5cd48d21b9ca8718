import { Agent } from 'undici';
import { clientTls, type TlsFiles } from '../tls-files.ts';

/** Files for TLS to the providers: a CA to trust, and our client certificate and key (mutual TLS). */
export type ProviderTlsFiles = TlsFiles;

/** Connections per provider origin when the caller does not say (the stage concurrencies do, apps/runtime/stage-deps.ts). */
export const DEFAULT_PROVIDER_CONNECTIONS = 16;

/**
 * The connection pools provider calls go through: one pool per provider origin (an undici Agent keeps a
 * Pool for each origin it is asked for), of at most `connections` keep-alive connections, so a call reuses
 * an open connection instead of connecting (and, over TLS, shaking hands) again. A call that finds every
 * connection busy waits for one, within its own time limit. With TLS files every connection trusts
 * `caFile` (besides the public CAs) and presents our certificate to providers that require one. A file
 * that cannot be read stops the process at start, naming it. Close it (`close()`, `destroy()`) at shutdown.
 */
export function providerPools(files: ProviderTlsFiles, connections = DEFAULT_PROVIDER_CONNECTIONS): Agent {
  const tls = clientTls(files, { ca: 'PROVIDER_CA_FILE', cert: 'PROVIDER_CERT_FILE', key: 'PROVIDER_KEY_FILE' });
  return new Agent({ connections, ...(tls ? { connect: tls } : {}) });
}
