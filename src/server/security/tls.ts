import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** SHA-256 of the CA certificate (the self-signed CA's, or the given certificate's), as Elasticsearch prints its CA's for clients to pin */
  readonly fingerprint: string;
  /** where it came from: the files given, or the data folder's own (made now or on an earlier start) */
  readonly source: 'given' | 'made' | 'kept';
  readonly certFile: string;
}

const fingerprintOf = (cert: string): string => new X509Certificate(cert).fingerprint256;
/** The last certificate of a PEM chain (the CA of the data folder's own pair). */
const lastOf = (chain: string): string => {
  const all = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [chain];
  return all[all.length - 1]!;
};

/** The certificate and key named by `--tls-cert`/`--tls-key`; an unreadable or mismatched pair is an error. */
export function readTls(certFile: string, keyFile: string): TlsMaterial {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  return { key, cert, fingerprint: fingerprintOf(lastOf(cert)), source: 'given', certFile };
}

/**
 * The data folder's own certificate, made on the first start that needs one as Elasticsearch 8
 * makes its own: a CA (`tls/http_ca.crt`, whose fingerprint clients pin or which they trust) and a
 * server certificate it signed (`tls/http.crt`, `tls/http.key`; valid 3 years, for localhost, this
 * machine's name and the given addresses). The server sends both, so a client can check the chain.
 */
export async function selfSignedTls(dataDir: string, names: readonly string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'http.crt');
  const keyFile = join(dir, 'http.key');
  const caFile = join(dir, 'http_ca.crt');
  if (existsSync(certFile) && existsSync(keyFile) && existsSync(caFile)) {
    const cert = readFileSync(certFile, 'utf8');
    return { key: readFileSync(keyFile, 'utf8'), cert, fingerprint: fingerprintOf(lastOf(cert)), source: 'kept', certFile: caFile };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dns = [...new Set(['localhost', hostname(), ...names.filter((n) => !/^[\d.]+$|:/.test(n))])];
  const ips = [...new Set(['127.0.0.1', '::1', ...names.filter((n) => /^[\d.]+$|:/.test(n) && n !== '0.0.0.0' && n !== '::')])];
  const now = new Date();
  const validity = { notBeforeDate: new Date(now.getTime() - 60_000), notAfterDate: new Date(now.getTime() + 3 * 365 * 86_400_000) };
  const ca = await generate([{ name: 'commonName', value: `Vigil HTTP CA (${hostname()})` }], {
    keySize: 2048,
    ...validity,
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const pems = await generate([{ name: 'commonName', value: hostname() }], {
    keySize: 2048,
    ...validity,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...dns.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  // the CA's key is not kept: nothing else is ever signed with it
  const chain = `${pems.cert.trim()}\n${ca.cert.trim()}\n`;
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, chain, { mode: 0o644 });
  writeFileSync(caFile, ca.cert, { mode: 0o644 });
  return { key: pems.private, cert: chain, fingerprint: fingerprintOf(ca.cert), source: 'made', certFile: caFile };
}
