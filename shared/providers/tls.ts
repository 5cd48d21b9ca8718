import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';

/** Files for TLS to the providers: a CA to trust, and our client certificate and key (mutual TLS). */
export interface ProviderTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/**
 * The connection pool provider calls go through when TLS files are given: it trusts `caFile` (besides
 * the system's CAs) and presents our certificate to providers that require one. None given: undefined,
 * and calls use the default pool. A file that cannot be read stops the process at start, naming it.
 */
export function providerDispatcher(files: ProviderTlsFiles, read: (path: string) => Buffer = (p) => readFileSync(p)): Dispatcher | undefined {
  if (!files.caFile && !files.certFile && !files.keyFile) return undefined;
  const load = (variable: string, path: string | undefined) => {
    if (!path) return undefined;
    try {
      return read(path);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  };
  const ca = load('PROVIDER_CA_FILE', files.caFile);
  const cert = load('PROVIDER_CERT_FILE', files.certFile);
  const key = load('PROVIDER_KEY_FILE', files.keyFile);
  // A CA list replaces Node's own: keep the public roots beside the one given.
  return new Agent({ connect: { ...(ca ? { ca: [...rootCertificates, ca] } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } });
}
