// The secured test servers (the security tests only; the default stack stays plaintext): a test
// PKI generated with openssl at start, a second small Kafka with a SASL_SSL listener and SCRAM
// users (secured-kafka.ts), a PostgreSQL cluster with ssl=on (secured-postgres.ts) and Debian's
// nginx in front of the stack's registry with TLS and basic auth (secured-nginx.ts). Their ports
// follow the stack's Kafka port (+2 .. +6), so each port set of the stack has its own. Credentials
// are random per start and handed to the tests, never written into any log.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../pipeline/errors.ts';
import { execFileP } from './process.ts';
import type { StackSettings } from './settings.ts';

export interface SecuredSettings {
  base: StackSettings;
  dir: string;
  host: string;
  /** the name in the servers' certificates (connecting by 127.0.0.1 is "the wrong host") */
  certHost: string;
  kafkaSaslPort: number;
  kafkaControllerPort: number;
  kafkaInternalPort: number;
  nginxPort: number;
  pgPort: number;
}

export function securedSettings(base: StackSettings): SecuredSettings {
  return {
    base,
    dir: path.join(base.stateDir, 'secured'),
    host: base.host,
    certHost: 'localhost',
    kafkaSaslPort: base.kafkaPort + 2,
    kafkaControllerPort: base.kafkaPort + 3,
    kafkaInternalPort: base.kafkaPort + 4,
    nginxPort: base.kafkaPort + 5,
    pgPort: base.kafkaPort + 6,
  };
}

/** The test PKI: a CA, a server certificate for certHost signed by it, and an unrelated CA. */
export interface TestPki {
  caFile: string;
  /** a CA that signed nothing here: "the wrong CA" */
  otherCaFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** a client certificate signed by the CA (mutual TLS) */
  clientCertFile: string;
  clientKeyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new StackError(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`, {
      hint: 'the secured test servers need openssl (Debian: apt-get install openssl)',
      cause: err,
    });
  }
}

const selfSignedCa = (name: string, cn: string) => [
  'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '7',
  '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${cn}`,
  '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
]; // prettier-ignore

async function signed(dir: string, name: string, cn: string, ext: string): Promise<void> {
  writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir); // prettier-ignore
  await openssl(['x509', '-req', '-sha256', '-days', '7', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-extfile', `${name}.ext`], dir); // prettier-ignore
}

/** Generates the PKI once per state directory (a few RSA keys: about a second). */
export async function ensureTestPki(s: SecuredSettings): Promise<TestPki> {
  const dir = path.join(s.dir, 'pki');
  const pki: TestPki = {
    caFile: path.join(dir, 'ca.pem'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    serverCertFile: path.join(dir, 'server.pem'),
    serverKeyFile: path.join(dir, 'server.key'),
    clientCertFile: path.join(dir, 'client.pem'),
    clientKeyFile: path.join(dir, 'client.key'),
  };
  if (existsSync(pki.clientCertFile)) return pki;
  mkdirSync(dir, { recursive: true });
  await openssl(selfSignedCa('ca', 'pgcdc test CA'), dir);
  await openssl(selfSignedCa('other-ca', 'some other CA'), dir);
  await signed(dir, 'server', s.certHost, `subjectAltName=DNS:${s.certHost}\nextendedKeyUsage=serverAuth`);
  await signed(dir, 'client', 'pgcdc', 'extendedKeyUsage=clientAuth');
  return pki;
}

/** Random credentials of the secured servers, kept in the state directory while they run. */
export interface SecuredCredentials {
  kafkaUser: string;
  kafkaPassword: string;
  registryUser: string;
  registryPassword: string;
}

export function credentials(s: SecuredSettings): SecuredCredentials {
  const file = path.join(s.dir, 'credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SecuredCredentials;
  const c: SecuredCredentials = {
    kafkaUser: 'pgcdc',
    kafkaPassword: randomBytes(12).toString('base64url'),
    registryUser: 'pgcdc-registry',
    registryPassword: randomBytes(12).toString('base64url'),
  };
  mkdirSync(s.dir, { recursive: true });
  writeFileSync(file, JSON.stringify(c), { mode: 0o600 });
  return c;
}
