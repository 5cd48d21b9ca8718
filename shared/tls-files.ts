import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Paths of TLS material: a CA to trust, and a client certificate with its key. */
export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** TLS options for a client connection (node:tls `connect` options). */
export interface ClientTls {
  ca?: Array<string | Buffer>;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Reads the files into client TLS options, or undefined when none is given. `variables` names the
 * configuration variable of each file, for the error a file that cannot be read raises at start.
 * A given CA is trusted besides the public roots (a CA list replaces Node's own otherwise).
 */
export function clientTls(files: TlsFiles, variables: { ca: string; cert: string; key: string }, read: (path: string) => Buffer = (p) => readFileSync(p)): ClientTls | undefined {
  if (!files.caFile && !files.certFile && !files.keyFile) return undefined;
  const load = (variable: string, path: string | undefined) => {
    if (!path) return undefined;
    try {
      return read(path);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  };
  const ca = load(variables.ca, files.caFile);
  const cert = load(variables.cert, files.certFile);
  const key = load(variables.key, files.keyFile);
  return { ...(ca ? { ca: [...rootCertificates, ca] } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
