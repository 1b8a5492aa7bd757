/**
 * Checks of the manufacturer connection. Black-box against the broker (--cloud mqtts://host:port):
 * a few connections that must be refused (no client certificate, a certificate from a CA the
 * auditor makes at audit time, TLS 1.2, the unit's own certificate asking for another client
 * id), each one CONNECT at most, and the broker's certificate checked against the bundle's CA.
 * Against the deployed cloud (--cloud-api): its claim rules, probed with test accounts while the
 * auditor opens the unit's claim window as the unit (claim-probe.ts). White-box: the shared topic
 * rule, the device's cloud link started against impostor brokers on loopback, and the reconnect
 * back-off.
 */
import { connect as tlsConnect, createServer as createTlsServer, type SecureVersion, type TLSSocket } from 'node:tls';
import { X509Certificate, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isIP, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readBounded } from './files.ts';
import { readJournal } from './stored-journal.ts';
import type { Evidence } from './types.ts';
import { isBulwark, NOT_BULWARK_DEVICE } from './device-info.ts';
import { claimProbeEvidence } from './claim-probe.ts';

const NO_CLOUD = "needs the manufacturer's broker: give --cloud mqtts://host:port";

function cloudTarget(ctx: AuditContext): { host: string; port: number; text: string } | undefined {
  const value = ctx.inputs.cloud;
  if (value === undefined) return undefined;
  const url = new URL(value);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), text: value };
}

/** The unit's public identity and its CA from the bundle; `key` is a secret and never leaves this module. */
async function bundleIdentity(
  ctx: AuditContext,
): Promise<{ serial: string; caPem: string; certPem: string; keyPem: string } | undefined> {
  const dir = ctx.inputs.bundleDir;
  if (dir === undefined) return undefined;
  const [ca, cert, key] = await Promise.all(
    ['ca-cert.pem', 'device-cert.pem', 'device-key.pem'].map((n) => readBounded(join(dir, n), 65_536)),
  );
  if (!ca!.ok || !cert!.ok || !key!.ok) return undefined;
  const cn = /CN=([^\n,]+)/.exec(new X509Certificate(cert!.text).subject)?.[1];
  return cn ? { serial: cn, caPem: ca!.text, certPem: cert!.text, keyPem: key!.text } : undefined;
}

/** A CA the auditor makes at audit time (never trusted by anything), with an issuer; once per audit. */
interface ForeignCa {
  readonly certPem: string;
  issueClient(cn: string): Promise<{ certPem: string; keyPem: string }>;
  issueServer(names: string[]): Promise<{ certPem: string; keyPem: string }>;
}
const foreignCas = new WeakMap<AuditContext, Promise<ForeignCa>>();
function foreignCa(ctx: AuditContext): Promise<ForeignCa> {
  let p = foreignCas.get(ctx);
  if (p === undefined) {
    p = (async () => {
      const { createTestCa, certificateIssuer } = await import('../cloud/index.ts');
      const ca = await createTestCa('Bulwark audit impostor CA');
      const issuer = await certificateIssuer(ca.certPem, ca.keyPem);
      return {
        certPem: ca.certPem,
        issueClient: (cn: string) => issuer.issueClient(cn),
        issueServer: (names: string[]) => issuer.issueServer(names),
      };
    })();
    foreignCas.set(ctx, p);
  }
  return p;
}

/** A serial number of the unit's model that no unit has (random), for "another device's client id". */
function otherSerial(serial: string): string {
  const alphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
  for (;;) {
    let tail = '';
    for (let i = 0; i < 10; i++) tail += alphabet[randomInt(alphabet.length)];
    const s = `${serial.slice(0, 3)}-${tail}`;
    if (s !== serial) return s;
  }
}

/** What one MQTT-over-TLS connection attempt got. */
interface MqttProbe {
  readonly tls: boolean;
  readonly protocol?: string;
  /** The CONNACK return code, when one came. */
  readonly connack?: number;
  readonly error?: string;
  /** The broker's certificate, checked against `ca` when given. */
  readonly serverCert?: {
    readonly issuedByCa: boolean;
    readonly hostOk: boolean;
    readonly inDate: boolean;
    readonly subject: string;
  };
}

/** One TLS connection and at most one CONNECT; a CONNACK 0 is followed by DISCONNECT at once. */
export async function mqttProbe(
  target: { host: string; port: number },
  o: {
    clientId: string;
    key?: string;
    cert?: string;
    ca?: string;
    minVersion?: SecureVersion;
    maxVersion?: SecureVersion;
    timeoutMs: number;
  },
): Promise<MqttProbe> {
  const { encodeConnect, encodeDisconnect, MqttDecoder } = await import('../cloud/index.ts');
  return new Promise((resolve) => {
    let tls = false,
      protocol: string | undefined,
      serverCert: MqttProbe['serverCert'],
      settled = false;
    const decoder = new MqttDecoder(4_096);
    const finish = (r: Partial<MqttProbe>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ tls, ...(protocol ? { protocol } : {}), ...(serverCert ? { serverCert } : {}), ...r });
    };
    const timer = setTimeout(() => finish({ error: tls ? 'no CONNACK in time' : 'timeout' }), o.timeoutMs);
    const socket: TLSSocket = tlsConnect(
      {
        host: target.host,
        port: target.port,
        rejectUnauthorized: false,
        minVersion: o.minVersion ?? 'TLSv1.2',
        maxVersion: o.maxVersion ?? 'TLSv1.3',
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        ...(o.key && o.cert ? { key: o.key, cert: o.cert } : {}),
      },
      () => {
        tls = true;
        protocol = socket.getProtocol() ?? undefined;
        if (o.ca !== undefined) {
          const leaf = socket.getPeerX509Certificate();
          const ca = new X509Certificate(o.ca);
          if (leaf) {
            const now = Date.now();
            serverCert = {
              issuedByCa: leaf.checkIssued(ca) && leaf.verify(ca.publicKey),
              hostOk: isIP(target.host)
                ? leaf.checkIP(target.host) !== undefined
                : leaf.checkHost(target.host) !== undefined,
              inDate: Date.parse(leaf.validFrom) <= now && now <= Date.parse(leaf.validTo),
              subject: leaf.subject.replace(/\n/g, ', ').slice(0, 120),
            };
          }
        }
        socket.write(encodeConnect({ clientId: o.clientId, clean: true, keepaliveSeconds: 30 }));
      },
    );
    socket.on('data', (chunk: Buffer) => {
      let packets;
      try {
        packets = decoder.push(chunk);
      } catch {
        finish({ error: 'malformed answer' });
        return;
      }
      const ack = packets.find((p) => p.type === 'connack');
      if (ack && ack.type === 'connack') {
        if (ack.returnCode === 0) socket.write(encodeDisconnect());
        finish({ connack: ack.returnCode });
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message.slice(0, 80) }));
    socket.on('close', () => finish({ error: tls ? 'closed without a CONNACK' : 'closed during the handshake' }));
  });
}

function probeText(p: MqttProbe): string {
  if (p.connack !== undefined)
    return p.connack === 0
      ? 'ACCEPTED (CONNACK 0)'
      : `refused: CONNACK ${p.connack} (${
          [
            'accepted',
            'unacceptable protocol version',
            'identifier ' + 'rejected',
            'server unavailable',
            'bad user name or password',
            'not authorized',
          ][p.connack] ?? '?'
        })`;
  return p.tls ? `refused after the handshake: ${p.error ?? '?'}` : `refused during the handshake: ${p.error ?? '?'}`;
}

type TlsProbeTarget = Parameters<typeof mqttProbe>[0];

/** A TLS 1.3-only probe connecting as `clientId`, with a client certificate when one is given. */
function tls13Probe(
  target: TlsProbeTarget,
  clientId: string,
  timeoutMs: number,
  extra: { key?: string; cert?: string; ca?: string } = {},
): Promise<MqttProbe> {
  return mqttProbe(target, { clientId, ...extra, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', timeoutMs });
}

type BundleIdentity = NonNullable<Awaited<ReturnType<typeof bundleIdentity>>>;

/** This unit's own certificate asking for another device's client id (only with --bundle). */
async function otherClientIdEvidence(
  target: TlsProbeTarget,
  own: BundleIdentity | undefined,
  timeoutMs: number,
): Promise<Evidence> {
  if (own === undefined)
    return {
      sent: "a connection under another device's client id with this unit's certificate",
      received: "not tried: needs --bundle (the unit's device certificate and key)",
    };
  const other = otherSerial(own.serial);
  const p = await tls13Probe(target, other, timeoutMs, { key: own.keyPem, cert: own.certPem });
  return {
    sent:
      `TLS 1.3 with this unit's own certificate (CN=${own.serial}, from the bundle), then CONNECT as another ` +
      `device, ${other}`,
    received:
      p.connack === 0
        ? "ACCEPTED under another device's client id (a broker that renames the client after its certificate, as " +
          "Mosquitto with use_identity_as_username does, accepts too, but then displaced this unit's own session)"
        : probeText(p),
    finding: p.connack === 0 || (p.tls && p.connack === undefined && p.error === undefined),
  };
}

/** A certificate from the auditor's own CA, over TLS 1.3 and then over TLS 1.2. */
async function foreignCertificateEvidence(
  ctx: AuditContext,
  target: TlsProbeTarget,
  serial: string,
  timeoutMs: number,
): Promise<Evidence[]> {
  const ca = await foreignCa(ctx);
  const forged = await ca.issueClient(serial);
  const foreign = await tls13Probe(target, serial, timeoutMs, { key: forged.keyPem, cert: forged.certPem });
  const old = await mqttProbe(target, {
    clientId: serial,
    key: forged.keyPem,
    cert: forged.certPem,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    timeoutMs,
  });
  return [
    {
      sent:
        `TLS 1.3 with a certificate for CN=${serial} from a CA the auditor made just now, ` +
        `then CONNECT as ${serial}`,
      received: probeText(foreign),
      finding: foreign.connack === 0,
    },
    {
      sent: 'TLS 1.2 (the same certificate)',
      received: old.tls ? `handshake completed (${old.protocol ?? '?'}); ${probeText(old)}` : probeText(old),
      finding: old.tls,
    },
  ];
}

/** The rule the broker applies (one definition, src/cloudprotocol topics.ts; the Mosquitto ACL is written from it). */
async function topicRuleEvidence(serial: string): Promise<Evidence[]> {
  const { mayPublish, maySubscribe, identityFromCommonName } = await import('../cloudprotocol/index.ts');
  const me = identityFromCommonName(serial) ?? { kind: 'device' as const, serial };
  const peer = otherSerial(serial);
  const cases: Array<[string, boolean, boolean]> = [
    [`publish devices/${peer}/telemetry`, mayPublish(me, `devices/${peer}/telemetry`), false],
    [`publish devices/${serial}/commands`, mayPublish(me, `devices/${serial}/commands`), false],
    [`subscribe devices/${peer}/commands`, maySubscribe(me, `devices/${peer}/commands`), false],
    ['subscribe devices/+/telemetry', maySubscribe(me, 'devices/+/telemetry'), false],
    ['subscribe #', maySubscribe(me, '#'), false],
    [`publish devices/${serial}/telemetry`, mayPublish(me, `devices/${serial}/telemetry`), true],
    [`subscribe devices/${serial}/commands`, maySubscribe(me, `devices/${serial}/commands`), true],
  ];
  const wrong = cases.filter(([, got, want]) => got !== want);
  const nameless = identityFromCommonName('intruder.example');
  return [
    {
      sent: `the broker's topic rule (src/cloudprotocol mayPublish/maySubscribe) for device ${serial}`,
      received:
        wrong.length === 0
          ? `its own topics only: ${cases
              .filter(([, , w]) => !w)
              .map(([c]) => c)
              .join(', ')} refused`
          : `wrong: ${wrong.map(([c, got]) => `${c} ${got ? 'allowed' : 'refused'}`).join(', ')}`,
      finding: wrong.length > 0,
    },
    {
      sent: 'the identity the broker gives a certificate whose CN is neither a serial nor a cloud instance',
      received: nameless === undefined ? 'none: such a client is refused (CONNACK 5)' : `${JSON.stringify(nameless)}`,
      finding: nameless !== undefined,
    },
  ];
}

/**
 * cloud.client-isolation: the broker admits only certificates of the manufacturer CA, takes the identity from the
 * certificate, and the topic rule confines each device to itself.
 */
export async function checkClientIsolation(ctx: AuditContext): Promise<CheckOutcome> {
  const target = cloudTarget(ctx);
  if (target === undefined) return notTested(NO_CLOUD);
  const timeoutMs = ctx.inputs.limits.requestTimeoutMs;
  const own = await bundleIdentity(ctx);
  const serial = own?.serial ?? 'PLG-AUDITAUDIT';
  const bare = await tls13Probe(target, serial, timeoutMs);
  if (!bare.tls && /ECONNREFUSED|timeout|EHOSTUNREACH/.test(bare.error ?? ''))
    return notTested(`nothing answered at ${target.text} (${bare.error ?? 'error'})`);
  const evidence: Evidence[] = [
    {
      sent: `TLS 1.3 to ${target.text} without a client certificate, then CONNECT as ${serial}`,
      received: probeText(bare),
      finding: bare.connack === 0,
    },
    ...(await foreignCertificateEvidence(ctx, target, serial, timeoutMs)),
    await otherClientIdEvidence(target, own, timeoutMs),
  ];
  if (!isBulwark(ctx))
    return verdict(
      evidence,
      'the broker admits only certificates of its CA over TLS 1.3',
      (f) => `the broker admits clients it should not: ${f.map((e) => e.received).join('; ')}`,
    );
  evidence.push(...(await topicRuleEvidence(serial)));
  return verdict(
    evidence,
    "the broker admits only certificates of the manufacturer CA, the client id must be the certificate's name, and " +
      'each device is confined to its own topics',
    (f) => `devices are not isolated in the cloud: ${f.map((e) => `${e.sent} -> ${e.received}`).join('; ')}`,
  );
}

/** The claim data the factory gives the cloud: hashes only (with --manifest). */
async function manifestClaimEvidence(ctx: AuditContext): Promise<Evidence[]> {
  if (ctx.inputs.manifestPath === undefined) return [];
  const { loadManifest } = await import('./manifest.ts');
  const m = await loadManifest(ctx);
  const plain = m === undefined ? 0 : m.units.filter((u) => !/^sha256:[0-9a-f]{64}$/.test(u.claimCodeHash)).length;
  return [
    {
      sent: 'the claim data the factory gives the cloud (manifest.json)',
      received:
        m === undefined
          ? 'unreadable'
          : plain === 0
            ? `${m.units.length} hashes, no claim code`
            : `${plain} entries are not hashes`,
      finding: plain > 0,
    },
  ];
}

/** The claim windows the device asked for, against its button presses (with a journal). */
async function journalClaimEvidence(ctx: AuditContext): Promise<Evidence[]> {
  const entries = await readJournal(ctx);
  if (entries === undefined) return [];
  const windows = entries.filter((e) => e.surface === 'cloud' && e.event === 'claim-window' && e.result === 'success');
  const presses = entries.filter((e) => e.surface === 'button' && (e.event === 'press' || e.event === 'claim-press'));
  return [
    {
      sent: "the device's journal: claim windows it asked the cloud to open",
      received: `${windows.length}, after ${presses.length} button press(es)`,
      finding: windows.length > presses.length,
    },
  ];
}

/**
 * cloud.claim-window: a right claim code is refused while the window is closed, wrong codes get nothing and are
 * rate-limited, a claimed device is not taken.
 */
export async function checkClaimWindow(ctx: AuditContext): Promise<CheckOutcome> {
  if (cloudTarget(ctx) === undefined)
    return notTested(`${NO_CLOUD} (the claim rules belong to the cloud the device connects to)`);
  if (!isBulwark(ctx))
    return notTested(`${NOT_BULWARK_DEVICE}; a cloud's claim rules are not observable without an owner account`);
  const probed = await claimProbeEvidence(ctx, await bundleIdentity(ctx));
  if (typeof probed === 'string') return notTested(probed);
  const evidence: Evidence[] = [...probed, ...(await manifestClaimEvidence(ctx)), ...(await journalClaimEvidence(ctx))];
  return verdict(
    evidence,
    "a claim needs the label's code inside a window opened by the device's button; wrong codes are refused and " +
      'rate-limited, and a claimed device cannot be taken',
    (f) => `claims are not secure: ${f.map((e) => e.received).join('; ')}`,
  );
}

/** A TLS server on loopback that answers any CONNECT with CONNACK 0: a stand-in for a broker. */
async function impostorBroker(cert: {
  certPem: string;
  keyPem: string;
}): Promise<{ port: number; handshakes: () => number; drop(): void; close(): Promise<void> }> {
  let handshakes = 0;
  const sockets = new Set<TLSSocket>();
  const server = createTlsServer(
    { key: cert.keyPem, cert: cert.certPem, minVersion: 'TLSv1.3', requestCert: false },
    (socket) => {
      handshakes++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      });
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    handshakes: () => handshakes,
    drop: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Starts the firmware's cloud link (src/cloudlink) against `port` with `identity`; resolves with the first connection
 * outcome.
 */
async function linkAttempt(
  identity: { serial: string; caCertPem: string; deviceCertPem: string; deviceKeyPem: string },
  impostor: { port: number; drop(): void },
  timeoutMs: number,
): Promise<string> {
  const port = impostor.port;
  const { CloudLink } = await import('../cloudlink/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-audit-link-'));
  let outcome: string | undefined;
  const link = await CloudLink.open({
    identity,
    stateDir: dir,
    config: {
      url: `mqtts://127.0.0.1:${port}`,
      connectTimeoutMs: Math.max(1_000, Math.min(timeoutMs, 120_000)),
      reconnectBaseMs: 60_000,
      reconnectMaxMs: 60_000,
    },
    execute: () => Promise.reject(new Error('the auditor runs no command')),
    state: () => ({ at: Date.now(), capabilities: [] }),
    onEvent: (e) => {
      if (e.event === 'connect' && outcome === undefined)
        outcome = e.result === 'success' ? 'connected' : `refused (${e.detail ?? 'error'})`;
    },
  });
  try {
    link.start();
    const until = Date.now() + timeoutMs;
    while (outcome === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    return outcome ?? 'no outcome in time';
  } finally {
    // The impostor acknowledges nothing but CONNECT: it hangs up first, so the link has nothing in flight to wait for.
    impostor.drop();
    await new Promise((r) => setTimeout(r, 50));
    await link.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The bundle's CA certificate, and the device certificate against it. */
function bundleCertificateEvidence(own: BundleIdentity): Evidence[] {
  const ca = new X509Certificate(own.caPem);
  const dev = new X509Certificate(own.certPem);
  const issued = dev.checkIssued(ca) && dev.verify(ca.publicKey);
  return [
    {
      sent: 'ca-cert.pem in the bundle',
      received: `${ca.ca ? 'a CA certificate' : 'NOT a CA certificate'}: ${ca.subject
        .replace(/\n/g, ', ')
        .slice(0, 80)}, valid to ${ca.validTo}`,
      finding: !ca.ca,
    },
    {
      sent: 'device-cert.pem against it',
      received: issued ? `issued by it (CN=${own.serial})` : "not issued by the bundle's CA",
      finding: !issued,
    },
  ];
}

/**
 * The firmware's link against impostors on loopback: one from a CA the auditor made, refused; and, as the control
 * that shows the probe can see a connection, the same link given that CA as its pin, accepted. `controlOk` is false
 * when the control failed.
 */
async function impostorEvidence(
  ctx: AuditContext,
  own: BundleIdentity,
  timeoutMs: number,
): Promise<{ evidence: Evidence[]; controlOk: boolean }> {
  const foreign = await foreignCa(ctx);
  const serverCert = await foreign.issueServer(['127.0.0.1']);
  const impostor = await impostorBroker(serverCert);
  try {
    const refused = await linkAttempt(
      { serial: own.serial, caCertPem: own.caPem, deviceCertPem: own.certPem, deviceKeyPem: own.keyPem },
      impostor,
      timeoutMs,
    );
    const client = await foreign.issueClient(own.serial);
    const control = await linkAttempt(
      { serial: own.serial, caCertPem: foreign.certPem, deviceCertPem: client.certPem, deviceKeyPem: client.keyPem },
      impostor,
      timeoutMs,
    );
    const evidence: Evidence[] = [
      {
        sent:
          "the firmware's cloud link (src/cloudlink), pinned to the bundle's CA, against a broker on loopback " +
          'whose certificate comes from another CA',
        received: refused === 'connected' ? 'CONNECTED to the impostor' : refused,
        finding: refused === 'connected',
      },
      {
        sent: 'control: the same link given that other CA as its pin (and a certificate from it)',
        received:
          control === 'connected'
            ? 'connected: the probe sees a connection when the pin matches'
            : `${control}: the probe could not show a connection`,
        finding: false,
      },
    ];
    return { evidence, controlOk: control === 'connected' };
  } finally {
    await impostor.close();
  }
}

/** The broker's certificate against the bundle's CA alone (with --cloud). */
async function brokerCertificateEvidence(
  ctx: AuditContext,
  own: BundleIdentity,
  timeoutMs: number,
): Promise<Evidence[]> {
  const target = cloudTarget(ctx);
  if (target === undefined) return [];
  const p = await tls13Probe(target, own.serial, timeoutMs, { ca: own.caPem });
  const c = p.serverCert;
  return [
    {
      sent: `the broker at ${target.text}: its certificate against the bundle's CA alone`,
      received:
        c === undefined
          ? `no certificate seen (${p.error ?? '?'})`
          : `${c.issuedByCa ? "issued by the bundle's CA" : "NOT issued by the bundle's CA"}, ${
              c.hostOk ? 'names this host' : 'does not name this host'
            }, ${c.inDate ? 'in date' : 'out of date'} (${c.subject})`,
      finding: c === undefined ? false : !(c.issuedByCa && c.hostOk && c.inDate),
    },
  ];
}

/** bundle.cloud-trust-anchor: the cloud link trusts the bundle's manufacturer CA and nothing else. */
export async function checkCloudTrustAnchor(ctx: AuditContext): Promise<CheckOutcome> {
  const own = await bundleIdentity(ctx);
  if (own === undefined) return notTested("needs --bundle: the device's pinned CA (ca-cert.pem) and its certificate");
  const evidence = bundleCertificateEvidence(own);
  const timeoutMs = Math.min(ctx.inputs.limits.requestTimeoutMs, 10_000);
  const link = await impostorEvidence(ctx, own, timeoutMs);
  evidence.push(...link.evidence);
  if (!link.controlOk)
    return notTested(
      'the impostor-broker probe did not work (its control connection failed), so the refusal proves nothing',
      evidence,
    );
  evidence.push(...(await brokerCertificateEvidence(ctx, own, timeoutMs)));
  return verdict(
    evidence,
    'the cloud link trusts only the manufacturer CA pinned in the bundle: a broker certified by any other CA is ' +
      'refused',
    (f) => `the cloud link's trust anchor is wrong: ${f.map((e) => e.received).join('; ')}`,
  );
}

/**
 * config.offline-operation: reconnects back off exponentially with jitter, and local control answers without the cloud
 * or a hub.
 */
export async function checkOfflineOperation(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_DEVICE);
  const { reconnectDelay, defaultChannelConfig } = await import('../channel/index.ts');
  const { defaultCloudLinkConfig } = await import('../cloudlink/index.ts');
  const evidence: Evidence[] = [];
  const judge = (
    what: string,
    c: { reconnectBaseMs: number; reconnectMaxMs: number; reconnectJitter: number },
  ): void => {
    const lows = [0, 1, 2, 3, 6, 12, 40].map((a) => reconnectDelay(a, c, 1));
    const highs = [0, 1, 2, 3, 6, 12, 40].map((a) => reconnectDelay(a, c, 0));
    const grows = highs[3]! > highs[0]! && highs[6]! <= c.reconnectMaxMs;
    const jitter = lows.every((l, i) => l < highs[i]!);
    evidence.push({
      sent: `${what}: the delay before reconnect attempts 1, 2, 3, 4, 7, 13 and 41 (src/channel reconnectDelay)`,
      received: `${highs.map((h, i) => `${lows[i]}-${h}`).join(', ')} ms: ${
        grows ? 'doubling to a cap' : 'NOT ' + 'growing to a cap'
      }, ${jitter ? `up to ${c.reconnectJitter * 100}% off at random` : 'NO jitter'}`,
      finding: !grows || !jitter || c.reconnectBaseMs < 100,
    });
  };
  judge('the cloud link', defaultCloudLinkConfig);
  judge("a hub's channel to the device", defaultChannelConfig);
  // Local control answering the auditor, none of whose requests involve the cloud or a hub.
  if (ctx.target !== undefined) {
    const seen = ctx.trace.answers.filter((a) => a.status > 0).length;
    evidence.push({
      sent: 'the admin page during this audit',
      received:
        seen > 0 ? `answered ${seen} requests locally (no request waits for the cloud or a hub)` : 'did not answer',
      finding: false,
    });
    if (seen === 0) return notTested('the admin page did not answer, so local control was not observed', evidence);
  }
  const entries = await readJournal(ctx);
  if (entries !== undefined) {
    const down = entries.filter(
      (e) => e.surface === 'cloud' && (e.event === 'disconnect' || (e.event === 'connect' && e.result === 'failure')),
    );
    const local = entries.filter(
      (e) => (e.surface === 'web' && e.result === 'success') || (e.surface === 'hub' && e.event === 'control'),
    );
    const during = down.length > 0 ? local.filter((e) => e.at > down[0]!.at).length : 0;
    evidence.push({
      sent: "the device's journal",
      received:
        down.length === 0
          ? 'no cloud outage recorded'
          : `${down.length} cloud outage(s) or failed connects; ${during} local request(s) served since the first`,
    });
  }
  return verdict(
    evidence,
    'the cloud link and hub channels reconnect with capped exponential back-off and jitter, and local control does ' +
      'not wait for either',
    (f) => `reconnects or local control are not resilient: ${f.map((e) => e.received).join('; ')}`,
  );
}
