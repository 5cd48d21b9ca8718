import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of a certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA the stand-ins trust and our client certificate is signed by. */
  caCert: string;
  /** The stand-ins' server certificate (127.0.0.1 and localhost), also usable as a client certificate. */
  server: CertFiles;
  /** Our client certificate, signed by the CA. */
  client: CertFiles;
  /** A client certificate signed by another CA: a provider requiring ours refuses it. */
  stranger: CertFiles;
  read(path: string): Buffer;
  remove(): void;
}

/** A throwaway PKI made with openssl: a CA, a server certificate, a client certificate, and a stranger's. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'arp-pki-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  writeFileSync(at('leaf.ext'), 'basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  const ca = (name: string) => openssl('req', '-x509', ...ec, '-days', '2', '-subj', `/CN=${name}`, '-keyout', at(`${name}.key`), '-out', at(`${name}.crt`));
  const leaf = (name: string, caName: string): CertFiles => {
    openssl('req', '-new', ...ec, '-subj', `/CN=${name}`, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`));
    openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at(`${caName}.crt`), '-CAkey', at(`${caName}.key`), '-CAcreateserial', '-days', '2', '-extfile', at('leaf.ext'), '-out', at(`${name}.crt`));
    return { cert: at(`${name}.crt`), key: at(`${name}.key`) };
  };
  ca('test-ca');
  ca('other-ca');
  return {
    dir,
    caCert: at('test-ca.crt'),
    server: leaf('server', 'test-ca'),
    client: leaf('client', 'test-ca'),
    stranger: leaf('stranger', 'other-ca'),
    read: (path) => readFileSync(path),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
