import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import {
  createCertificateAuthority,
  issueClientCertificate,
  loadCaSigner,
  readRevocationList,
} from '../identity/index.ts';
import {
  MosquittoRevocation,
  checkDisableAnswer,
  disableCommands,
  pemBlocks,
  signalMosquittoReload,
  writeMosquittoCrl,
} from './mosquitto-revocation.ts';
import type { RevocationRecord } from './revocation.ts';

async function signer(): Promise<Awaited<ReturnType<typeof loadCaSigner>>> {
  const root = await createCertificateAuthority('Acme Device CA');
  return loadCaSigner(root.certPem, root.privateKeyPem);
}

test('the CRL written for Mosquitto lists every revoked serial number, is 0644, and is signed by the CA', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mq-crl-'));
  try {
    const ca = await signer();
    const file = join(dir, 'crl.pem');
    const revoked = [
      { serialNumber: '7f01', revokedAt: Date.now() - 1000, reason: 'stolen' as const, generation: null },
      { serialNumber: '0a02', revokedAt: Date.now(), reason: 'retired' as const, generation: null },
    ];
    const pem = await writeMosquittoCrl(file, ca, revoked);
    assert.equal(await readFile(file, 'utf8'), pem);
    assert.equal((await stat(file)).mode & 0o777, 0o644, 'Mosquitto, another user, must read it');
    const back = await readRevocationList(pem, ca.certPem);
    assert.deepEqual([...back.serialNumbers].sort(), ['0a02', '7f01']);
    await assert.rejects(writeMosquittoCrl(tmpdir(), ca, revoked), { code: 'MOSQUITTO_CRL_FAILED' }, 'a folder');
    await assert.rejects(
      writeMosquittoCrl(file, ca, [{ serialNumber: 'not hex', revokedAt: 0, reason: 'other', generation: null }]),
      { code: 'MOSQUITTO_CRL_FAILED' },
      'a bad entry is refused',
    );
    assert.equal(await readFile(file, 'utf8'), pem, 'and the good list stays in place');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the CRL file holds one list per CA, each signed by its CA and naming only its certificates', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mq-crls-'));
  try {
    const [maker, g1, g2] = await Promise.all([signer(), signer(), signer()]);
    const revoked = [
      { serialNumber: '7f01', revokedAt: 1, reason: 'stolen' as const, generation: null },
      { serialNumber: '0b02', revokedAt: 1, reason: 'stolen' as const, generation: 2 },
    ];
    const pem = await writeMosquittoCrl(
      join(dir, 'crl.pem'),
      maker,
      revoked,
      new Date(),
      new Map([
        [1, g1],
        [2, g2],
      ]),
    );
    const lists = pemBlocks(pem, 'X509 CRL');
    assert.equal(lists.length, 3, 'the manufacturer CA and both generations, the one with nothing revoked too');
    assert.deepEqual((await readRevocationList(lists[0]!, maker.certPem)).serialNumbers, ['7f01']);
    assert.deepEqual((await readRevocationList(lists[1]!, g1.certPem)).serialNumbers, []);
    assert.deepEqual((await readRevocationList(lists[2]!, g2.certPem)).serialNumbers, ['0b02']);
    await assert.rejects(
      writeMosquittoCrl(join(dir, 'crl.pem'), maker, revoked, new Date(), new Map([[1, g1]])),
      { code: 'MOSQUITTO_CRL_FAILED' },
      'a revoked certificate whose CA cannot sign is not silently left out',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the reload sends SIGHUP to the pid in the pid file; a missing or stale pid is a typed failure', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mq-pid-'));
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
    await writeFile(join(dir, 'm.pid'), `${child.pid}\n`);
    assert.equal(await signalMosquittoReload(join(dir, 'm.pid')), child.pid);
    assert.equal(await exited, 'SIGHUP');
    await assert.rejects(signalMosquittoReload(join(dir, 'none.pid')), { code: 'MOSQUITTO_RELOAD_FAILED' });
    await writeFile(join(dir, 'bad.pid'), 'x');
    await assert.rejects(signalMosquittoReload(join(dir, 'bad.pid')), { code: 'MOSQUITTO_RELOAD_FAILED' });
    await assert.rejects(signalMosquittoReload(join(dir, 'm.pid')), { code: 'MOSQUITTO_RELOAD_FAILED' }, 'gone');
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('disable commands create then disable each unit, and only a confirmed disableClient counts', () => {
  const text = disableCommands(['PLG-AAAAAAAA23', 'PLG-BBBBBBBB23'], 'k1');
  const { commands } = JSON.parse(text) as { commands: Array<{ command: string; username: string }> };
  assert.deepEqual(
    commands.map((c) => `${c.command} ${c.username}`),
    [
      'createClient PLG-AAAAAAAA23',
      'disableClient PLG-AAAAAAAA23',
      'createClient PLG-BBBBBBBB23',
      'disableClient PLG-BBBBBBBB23',
    ],
  );
  const answer = (responses: unknown[]): Buffer => Buffer.from(JSON.stringify({ responses }));
  const ok = [
    { command: 'createClient', error: 'Client already exists', correlationData: 'k1-c0' },
    { command: 'disableClient', correlationData: 'k1-d0' },
  ];
  assert.equal(checkDisableAnswer(answer(ok), ['PLG-AAAAAAAA23'], 'k1'), true, 'an existing client is fine');
  assert.equal(checkDisableAnswer(answer(ok), ['PLG-AAAAAAAA23'], 'other'), false, 'not our answer');
  assert.throws(
    () =>
      checkDisableAnswer(
        answer([{ command: 'disableClient', error: 'Permission denied', correlationData: 'k1-d0' }]),
        ['PLG-AAAAAAAA23'],
        'k1',
      ),
    { code: 'MOSQUITTO_DYNSEC_FAILED' },
  );
});

async function issued(ca: Awaited<ReturnType<typeof loadCaSigner>>): Promise<{ certPem: string; keyPem: string }> {
  const admin = await issueClientCertificate(ca, 'bulwark-admin-1');
  return { certPem: admin.certPem, keyPem: admin.privateKeyPem };
}

test('an unreachable broker is logged as a typed failure and retried; the CRL is still written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mq-down-'));
  const closed = createServer((s) => s.destroy());
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const ca = await signer();
  const record: RevocationRecord = {
    kind: 'unit',
    serial: 'PLG-AAAAAAAA23',
    fingerprint: null,
    reason: 'stolen',
    by: 'cli',
    revokedAt: Date.now(),
  };
  let reads = 0;
  const lines: string[] = [];
  const m = new MosquittoRevocation({
    configDir: dir,
    ca,
    brokerUrl: `mqtts://127.0.0.1:${(closed.address() as AddressInfo).port}`,
    instance: '1',
    admin: await issued(ca),
    store: {
      revokedSerialNumbers: () =>
        Promise.resolve([{ serialNumber: '7f01', revokedAt: 1, reason: 'stolen', generation: null }]),
      issuingCas: () => Promise.resolve([]),
      revocations: () => {
        reads++;
        return Promise.resolve([record]);
      },
    },
    log: (l) => lines.push(l),
    config: { retryMs: 100, answerTimeoutMs: 500 },
  });
  try {
    await m.applyAll();
    assert.ok(
      lines.some((l) => l.includes('MOSQUITTO_DYNSEC_FAILED')),
      lines.join('\n'),
    );
    const crl = await readRevocationList(await readFile(join(dir, 'crl.pem'), 'utf8'), ca.certPem);
    assert.deepEqual(crl.serialNumbers, ['7f01'], 'the refusal half does not wait for the admin connection');
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(reads >= 2, `retried (${reads} reads)`);
  } finally {
    m.stop();
    await m.settled();
    closed.close();
    await rm(dir, { recursive: true, force: true });
  }
});
