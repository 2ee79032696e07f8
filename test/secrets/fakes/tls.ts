import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1, made with the
 * `openssl` CLI at test time so no private key, even a test one, is ever committed. The Azure
 * SDK only answers the Key Vault challenge over HTTPS, so its fake needs these.
 */
export interface TestCertificates {
  /** PEM of the CA; trust it (NODE_EXTRA_CA_CERTS or tls.setDefaultCACertificates). */
  caPem: string;
  /** Path of the CA PEM on disk, for a child process's NODE_EXTRA_CA_CERTS. */
  caPath: string;
  key: string;
  cert: string;
  dispose(): void;
}

// One day is ample for a test run and keeps a leaked file useless soon after.
const VALID_DAYS = '1';

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tinkr-test-ca-'));
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', VALID_DAYS,
    '-subj', '/CN=tinkr test CA (test only)', '-keyout', p('ca.key'), '-out', p('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=127.0.0.1', '-keyout', p('server.key'), '-out', p('server.csr'));
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-days', VALID_DAYS, '-extfile', p('server.ext'), '-out', p('server.pem'));

  return {
    caPem: readFileSync(p('ca.pem'), 'utf8'),
    caPath: p('ca.pem'),
    key: readFileSync(p('server.key'), 'utf8'),
    cert: readFileSync(p('server.pem'), 'utf8'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
