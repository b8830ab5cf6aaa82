// Test TLS material made at test time with the openssl CLI: a CA, and leaf certificates it signs for
// given DNS names / IPs / URIs (server or client usage). Nothing is checked in, so nothing expires in
// the repository; EC P-256 keys keep generation at a few milliseconds per certificate.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PemPair {
  /** PEM certificate (leaf only; the chain is just the CA). */
  cert: string;
  /** PEM private key (PKCS#8). */
  key: string;
  certPath: string;
  keyPath: string;
}

export interface LeafOptions {
  dnsNames?: string[];
  ips?: string[];
  uris?: string[];
  /** 'server' (serverAuth, default) or 'client' (clientAuth). */
  usage?: 'server' | 'client';
  /** Days of validity (default 2). */
  days?: number;
}

export interface TestPki {
  dir: string;
  /** The CA certificate and key (PEM); `ca.cert` is what a validation context trusts. */
  ca: PemPair;
  /** A server certificate for `serverNames` (default `localhost`) and 127.0.0.1 / ::1. */
  server: PemPair;
  /** A client certificate, CN `client`, URI SAN `spiffe://meshd.test/client`. */
  client: PemPair;
  /** Issues another leaf signed by this CA. `name` is the CN and the file name stem. */
  issue(name: string, options?: LeafOptions): Promise<PemPair>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 15_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

async function readPair(certPath: string, keyPath: string): Promise<PemPair> {
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key, certPath, keyPath };
}

/** Makes a CA plus one server and one client certificate in `dir` (created if missing). */
export async function makeTestPki(dir: string, options: { serverNames?: string[]; caName?: string } = {}): Promise<TestPki> {
  await mkdir(dir, { recursive: true });
  const caCert = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  await openssl(
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', `/CN=${options.caName ?? 'meshd test CA'}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const ca = await readPair(caCert, caKey);
  let serial = 1;

  const issue = async (name: string, leaf: LeafOptions = {}): Promise<PemPair> => {
    const stem = name.replace(/[^A-Za-z0-9_.-]/g, '_');
    const keyPath = join(dir, `${stem}-key.pem`);
    const csrPath = join(dir, `${stem}.csr`);
    const certPath = join(dir, `${stem}.pem`);
    const extPath = join(dir, `${stem}.ext`);
    const sans = [
      ...(leaf.dnsNames ?? []).map((d) => `DNS:${d}`),
      ...(leaf.ips ?? []).map((ip) => `IP:${ip}`),
      ...(leaf.uris ?? []).map((u) => `URI:${u}`),
    ];
    const usage = leaf.usage === 'client' ? 'clientAuth' : 'serverAuth';
    const ext = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${usage}`];
    if (sans.length > 0) ext.push(`subjectAltName=${sans.join(',')}`);
    await writeFile(extPath, ext.join('\n') + '\n');
    await openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${name}`],
      dir,
    );
    const days = leaf.days ?? 2;
    if (!(days > 0)) throw new RangeError(`makeTestPki: days must be positive, got ${days}`);
    const validity = ['-days', String(days)];
    await openssl(
      ['x509', '-req', '-in', csrPath, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(1000 + serial++), ...validity, '-sha256', '-extfile', extPath, '-out', certPath],
      dir,
    );
    return readPair(certPath, keyPath);
  };

  const server = await issue('server', { dnsNames: options.serverNames ?? ['localhost'], ips: ['127.0.0.1', '::1'] });
  const client = await issue('client', { usage: 'client', uris: ['spiffe://meshd.test/client'], dnsNames: ['client.meshd.test'] });
  return { dir, ca, server, client, issue };
}
