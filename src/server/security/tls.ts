import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** SHA-256 of the certificate, as `openssl x509 -fingerprint -sha256` and Elasticsearch print it */
  readonly fingerprint: string;
  /** where it came from: the files given, or the data folder's own (made now or on an earlier start) */
  readonly source: 'given' | 'made' | 'kept';
  readonly certFile: string;
}

const fingerprintOf = (cert: string): string => new X509Certificate(cert).fingerprint256;

/** The certificate and key named by `--tls-cert`/`--tls-key`; an unreadable or mismatched pair is an error. */
export function readTls(certFile: string, keyFile: string): TlsMaterial {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  const x = new X509Certificate(cert);
  return { key, cert, fingerprint: x.fingerprint256, source: 'given', certFile };
}

/**
 * The data folder's own self-signed certificate (`tls/http.crt`, `tls/http.key`), made on the first
 * start that needs one (valid 3 years, for localhost, this machine's name and the given addresses),
 * as Elasticsearch 8 makes its HTTP certificate on first start.
 */
export async function selfSignedTls(dataDir: string, names: readonly string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'http.crt');
  const keyFile = join(dir, 'http.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8');
    return { key: readFileSync(keyFile, 'utf8'), cert, fingerprint: fingerprintOf(cert), source: 'kept', certFile };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dns = [...new Set(['localhost', hostname(), ...names.filter((n) => !/^[\d.]+$|:/.test(n))])];
  const ips = [...new Set(['127.0.0.1', '::1', ...names.filter((n) => /^[\d.]+$|:/.test(n) && n !== '0.0.0.0' && n !== '::')])];
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: hostname() }], {
    keySize: 2048,
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 3 * 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...dns.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, fingerprint: fingerprintOf(pems.cert), source: 'made', certFile };
}
