/**
 * Checks of the unit's identities over their life: how long each certificate is valid (the web
 * certificate the device serves, the birth certificate in its bundle, the operational certificate
 * in its state), whether one past its renewal point was renewed (and the journal says so), and
 * whether the manufacturer's broker refuses a certificate the cloud has revoked.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readBounded } from './files.ts';
import { tlsHandshake } from './net.ts';
import { readJournal } from './stored-journal.ts';
import { mqttProbe } from './cloud-checks.ts';
import type { Evidence } from './types.ts';

const DAY_MS = 86_400_000;
/** Browsers and testssl.sh refuse a server certificate valid longer than this. */
const MAX_WEB_DAYS = 398;
/** The longest operational certificate the cloud may issue (its configuration's ceiling). */
const MAX_OPERATIONAL_DAYS = 825;
/** The unit's operational identity in its state folder (src/cloudlink). */
const OPERATIONAL_FILE = 'operational-identity.json';

function days(ms: number): number {
  return Math.round(ms / DAY_MS);
}

/** The served web certificate: at most 398 days, in date; renewed (and journalled) when it is not the factory's. */
async function webEvidence(ctx: AuditContext, evidence: Evidence[]): Promise<boolean> {
  const target = ctx.inputs.targets[0];
  if (!target) return false;
  const h = await tlsHandshake(target, {}, ctx.inputs.limits.connectTimeoutMs);
  if (!h.ok || h.certNotBefore === undefined || h.certNotAfter === undefined) return false;
  const lifetime = days(h.certNotAfter - h.certNotBefore);
  const now = Date.now();
  evidence.push({
    sent: `TLS handshake with ${target.host}:${target.port}: the served certificate's validity`,
    received: `${lifetime} days, until ${new Date(h.certNotAfter).toISOString().slice(0, 10)}`,
    finding: lifetime > MAX_WEB_DAYS || h.certNotAfter <= now || h.certNotBefore > now,
  });
  const factory = ctx.inputs.bundleDir ? await readBounded(join(ctx.inputs.bundleDir, 'web-cert.pem'), 65_536) : null;
  if (factory?.ok) {
    const renewed =
      `sha256:${new X509Certificate(factory.text).fingerprint256.replace(/:/g, '').toLowerCase()}` !==
      h.certFingerprint;
    const journal = renewed ? await readJournal(ctx) : undefined;
    if (renewed && journal !== undefined) {
      const logged = journal.some((e) => e.event === 'certificate-renewed');
      evidence.push({
        sent: "the served certificate against the bundle's, and the journal",
        received: logged
          ? 'renewed by the unit, and journalled'
          : 'renewed, but the journal has no certificate-renewed',
        finding: !logged,
      });
    }
  }
  return true;
}

/** The birth certificate must outlive the support period, or the unit loses the cloud while still supported. */
async function birthEvidence(ctx: AuditContext, evidence: Evidence[]): Promise<boolean> {
  const dir = ctx.inputs.bundleDir;
  if (!dir) return false;
  const [cert, unit] = await Promise.all([
    readBounded(join(dir, 'device-cert.pem'), 65_536),
    readBounded(join(dir, 'unit.json'), 65_536),
  ]);
  if (!cert.ok) return false;
  const c = new X509Certificate(cert.text);
  const notAfter = Date.parse(c.validTo);
  let supportEnd: number | undefined;
  try {
    const end = unit.ok ? (JSON.parse(unit.text) as { supportPeriodEnd?: unknown }).supportPeriodEnd : undefined;
    supportEnd = typeof end === 'string' ? Date.parse(end) : undefined;
  } catch {
    supportEnd = undefined;
  }
  evidence.push({
    sent: "the bundle's birth (device) certificate",
    received:
      `${days(notAfter - Date.parse(c.validFrom))} days, until ${c.validTo}` +
      (supportEnd ? `; support period ends ${new Date(supportEnd).toISOString().slice(0, 10)}` : ''),
    finding: notAfter <= Date.now() || (supportEnd !== undefined && notAfter < supportEnd),
  });
  return true;
}

/** The operational certificate in the unit's state: at most 825 days, in date or being renewed. */
async function operationalEvidence(ctx: AuditContext, evidence: Evidence[]): Promise<boolean> {
  const dir = ctx.inputs.stateDir;
  if (!dir) return false;
  const file = await readBounded(join(dir, OPERATIONAL_FILE), 262_144);
  if (!file.ok) return false;
  let certPem: unknown;
  try {
    certPem = (JSON.parse(file.text) as { current?: { certPem?: unknown } }).current?.certPem;
  } catch {
    certPem = undefined;
  }
  if (typeof certPem !== 'string') return false;
  const c = new X509Certificate(certPem);
  const from = Date.parse(c.validFrom),
    to = Date.parse(c.validTo);
  evidence.push({
    sent: `the operational certificate in ${OPERATIONAL_FILE}`,
    received: `${days(to - from)} days, until ${c.validTo}, issued by ${c.issuer.replace(/\n/g, ', ')}`,
    finding: days(to - from) > MAX_OPERATIONAL_DAYS || to <= Date.now(),
  });
  return true;
}

/** tls.certificate-lifetimes: what each certificate's validity says of its renewal. */
export async function checkCertificateLifetimes(ctx: AuditContext): Promise<CheckOutcome> {
  const evidence: Evidence[] = [];
  const web = await webEvidence(ctx, evidence);
  const birth = await birthEvidence(ctx, evidence);
  const operational = await operationalEvidence(ctx, evidence);
  if (!web && !birth && !operational)
    return notTested('needs the device (--url), its bundle (--bundle) or its state (--state)', evidence);
  const seen = [web && 'web', birth && 'birth', operational && 'operational'].filter(Boolean).join(', ');
  return verdict(evidence, `certificate lifetimes in bounds (${seen})`, (f) => `${f.length} certificate finding(s)`);
}

/** cloud.revocation-enforced: one connection with a certificate the cloud revoked; it must not get in. */
export async function checkRevocationEnforced(ctx: AuditContext): Promise<CheckOutcome> {
  const cloud = ctx.inputs.cloud;
  const dir = ctx.inputs.revokedIdentityDir;
  if (cloud === undefined) return notTested("needs the manufacturer's broker: give --cloud mqtts://host:port");
  if (dir === undefined)
    return notTested('needs a certificate the cloud has revoked: give --revoked <folder with device-cert.pem, key>');
  const [cert, key, ca] = await Promise.all(
    ['device-cert.pem', 'device-key.pem', 'ca-cert.pem'].map((n) => readBounded(join(dir, n), 65_536)),
  );
  if (!cert!.ok || !key!.ok) return notTested(`${dir} holds no device-cert.pem and device-key.pem`);
  const url = new URL(cloud);
  const cn = /CN=([^\n,]+)/.exec(new X509Certificate(cert!.text).subject)?.[1] ?? 'revoked';
  const probe = await mqttProbe(
    { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) },
    { clientId: cn, cert: cert!.text, key: key!.text, ...(ca!.ok ? { ca: ca!.text } : {}), timeoutMs: 5_000 },
  );
  const accepted = probe.connack === 0;
  const evidence: Evidence[] = [
    {
      sent: `CONNECT as ${cn} with its revoked certificate`,
      received: accepted
        ? 'CONNACK 0: accepted'
        : probe.connack !== undefined
          ? `CONNACK ${probe.connack}`
          : `refused (${probe.error ?? (probe.tls ? 'closed after TLS' : 'TLS refused')})`,
      finding: accepted,
    },
  ];
  return verdict(
    evidence,
    'the broker refuses a revoked certificate',
    () => 'the broker accepted a revoked certificate',
  );
}
