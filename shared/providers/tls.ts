import { Agent, type Dispatcher } from 'undici';
import { clientTls, type TlsFiles } from '../tls-files.ts';

/** Files for TLS to the providers: a CA to trust, and our client certificate and key (mutual TLS). */
export type ProviderTlsFiles = TlsFiles;

/**
 * The connection pool provider calls go through when TLS files are given: it trusts `caFile` (besides
 * the public CAs) and presents our certificate to providers that require one. None given: undefined,
 * and calls use the default pool. A file that cannot be read stops the process at start, naming it.
 */
export function providerDispatcher(files: ProviderTlsFiles): Dispatcher | undefined {
  const tls = clientTls(files, { ca: 'PROVIDER_CA_FILE', cert: 'PROVIDER_CERT_FILE', key: 'PROVIDER_KEY_FILE' });
  return tls && new Agent({ connect: tls });
}
