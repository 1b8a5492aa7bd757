import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { createHash, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { certificateIssuer, createTestCa } from './pki.ts';
import {
  Mailer,
  composeMail,
  findMailedLink,
  maildirName,
  validateMailConfig,
  writeMaildirMessage,
  type MailKind,
} from './mail.ts';

test('the maildir writer puts each message in new/ under a unique maildir name and leaves tmp/ empty', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-maildir-'));
  const names = await Promise.all([1, 2, 3].map((i) => writeMaildirMessage(dir, Buffer.from(`message ${i}\n`))));
  assert.equal(new Set(names).size, 3, 'every name is unique');
  for (const n of names) assert.match(n, /^\d+\.M\d+P\d+Q\d+\.[^/:]+$/);
  assert.deepEqual((await readdir(join(dir, 'new'))).sort(), [...names].sort());
  assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'nothing half-written is left');
  assert.deepEqual(await readdir(join(dir, 'cur')), []);
  const texts = await Promise.all(names.map((n) => readFile(join(dir, 'new', n), 'utf8')));
  assert.deepEqual(texts.sort(), ['message 1\n', 'message 2\n', 'message 3\n']);
  assert.equal((await stat(join(dir, 'new', names[0]!))).mode & 0o777, 0o600, 'only the cloud reads them');
});

test('maildir names from the same millisecond still differ', () => {
  const now = Date.now();
  assert.notEqual(maildirName(now), maildirName(now));
});

test('the mailer writes an RFC 5322 message a mail parser reads, and the demo finds its link', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-maildir-'));
  const logs: string[] = [];
  const mailer = new Mailer({ config: validateMailConfig(), maildir: dir, log: (m) => logs.push(m) });
  const link = `https://127.0.0.1:9443/verify?token=${'a'.repeat(16)}.${'b'.repeat(43)}`;
  mailer.send('verify', 'owner@example.com', { link });
  await mailer.idle();
  assert.equal(mailer.transport, 'maildir');
  assert.deepEqual(mailer.counts, { sent: 1, failed: 0, queued: 0 });
  const [name] = await readdir(join(dir, 'new'));
  const parsed = await simpleParser(await readFile(join(dir, 'new', name!)));
  assert.equal(parsed.subject, 'Confirm your e-mail address');
  assert.match(parsed.text ?? '', new RegExp(link.replace(/[.?]/g, '\\$&')));
  assert.equal(await findMailedLink(dir, 'owner@example.com', '/verify'), link);
  assert.equal(await findMailedLink(dir, 'other@example.com', '/verify'), undefined, 'only messages to that address');
  assert.deepEqual(logs, [], 'nothing about the message is logged');
});

test("forgetting an address deletes every message to it from the maildir and no one else's", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-maildir-'));
  const mailer = new Mailer({ config: validateMailConfig(), maildir: dir, log: () => undefined });
  const link = `https://127.0.0.1:9443/reset?token=${'c'.repeat(16)}.${'d'.repeat(43)}`;
  mailer.send('reset', 'Gone@Example.com', { link, minutes: 15 });
  mailer.send('sign-in', 'gone@example.com', { source: '127.0.0.1' });
  mailer.send('verify', 'kept@example.com', { link });
  assert.equal(await mailer.forget('gone@example.com'), 2);
  assert.equal(await findMailedLink(dir, 'gone@example.com', '/reset'), undefined, 'the live reset link is gone');
  assert.equal((await readdir(join(dir, 'new'))).length, 1, "the other address's message stays");
  assert.equal(await findMailedLink(dir, 'kept@example.com', '/reset'), link);
});

test('every kind of message has a subject and a plain body; the link appears only where one is given', () => {
  const kinds: MailKind[] = [
    'verify',
    'signup-existing',
    'reset',
    'password-changed',
    'sign-in',
    'claim',
    'release',
    'invite',
    'member-added',
  ];
  for (const kind of kinds) {
    const m = composeMail(kind, { serial: 'PLG-AAAAAAAAAA', who: 'a@example.com', role: 'member', minutes: 15 });
    assert.ok(m.subject.length > 5 && !/[\r\n]/.test(m.subject), kind);
    assert.ok(!/<[a-z]/i.test(m.text), `${kind} is plain text`);
    assert.doesNotMatch(m.text, /token=/, `${kind} carries no token unless given a link`);
  }
});

test('the config refuses SMTPS on 465, half a login, a pin that is no SHA-256, and a From with a line break', () => {
  assert.equal(validateMailConfig().smtp, null, 'no server by default: the maildir');
  assert.equal(validateMailConfig({ smtp: { host: 'mail.example.com' } as never }).smtp?.port, 587);
  const refused: Array<[Record<string, unknown>, string]> = [
    [{ smtp: { host: 'mail.example.com', port: 465 } }, 'mail.smtp.port'],
    [{ smtp: { host: 'mail.example.com', user: 'u' } }, 'mail.smtp.user'],
    [{ smtp: { host: 'mail.example.com', pinSha256: 'abc' } }, 'mail.smtp.pinSha256'],
    [{ smtp: { host: 'mail example' } }, 'mail.smtp.host'],
    [{ from: 'a@b.example\r\nBcc: x@y.example' }, 'mail.from'],
    [{ linkBase: 'http://cloud.example.com' }, 'mail.linkBase'],
  ];
  for (const [config, key] of refused)
    assert.throws(() => validateMailConfig(config), { code: 'CLOUD_CONFIG_INVALID', key }, key);
});

test('a full queue drops the message and logs its kind only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-maildir-'));
  const logs: string[] = [];
  const mailer = new Mailer({ config: validateMailConfig({ maxQueued: 1 }), maildir: dir, log: (m) => logs.push(m) });
  mailer.send('sign-in', 'a@example.com', { source: '192.0.2.1' });
  mailer.send('sign-in', 'b@example.com', { source: '192.0.2.1' });
  mailer.send('sign-in', 'c@example.com', { source: '192.0.2.1' });
  await mailer.idle();
  assert.ok(mailer.counts.failed >= 1);
  assert.ok(logs.some((l) => /queue full, a sign-in message was dropped/.test(l)));
  assert.ok(
    logs.every((l) => !/@example\.com/.test(l)),
    'no address in the log',
  );
});

/** A real SMTP server on loopback with a certificate made now; `noTls`: it neither offers nor accepts STARTTLS. */
async function smtpServer(o: { noTls?: boolean } = {}) {
  const { SMTPServer } = await import('smtp-server');
  const ca = await createTestCa('Mail test CA');
  const cert = await (await certificateIssuer(ca.certPem, ca.keyPem)).issueServer(['localhost']);
  const got: Array<{ secure: boolean; size: number }> = [];
  const server = new SMTPServer({
    key: cert.keyPem,
    cert: cert.certPem,
    authOptional: true,
    logger: false,
    ...(o.noTls ? { hideSTARTTLS: true, disabledCommands: ['STARTTLS'] } : {}),
    onData(stream, session, done) {
      let size = 0;
      stream.on('data', (c: Buffer) => (size += c.length));
      stream.on('end', () => {
        got.push({ secure: session.secure, size });
        done();
      });
    },
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port)),
  );
  const der = new X509Certificate(cert.certPem).raw;
  return {
    got,
    smtp: { host: '127.0.0.1', port, caPem: ca.certPem, servername: 'localhost' },
    pin: createHash('sha256').update(der).digest('hex'),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function sendOne(smtp: Parameters<typeof validateMailConfig>[0]): Promise<{ sent: number; logs: string[] }> {
  const logs: string[] = [];
  const config = validateMailConfig({ ...smtp, timeoutMs: 5_000 });
  const mailer = new Mailer({ config, maildir: '/nonexistent', log: (m) => logs.push(m) });
  mailer.send('password-changed', 'owner@example.com');
  await mailer.close();
  return { sent: mailer.counts.sent, logs };
}

test('over SMTP a message goes only after STARTTLS, to a certificate of the given CA or the pinned one', async () => {
  const s = await smtpServer();
  try {
    assert.equal((await sendOne({ smtp: s.smtp })).sent, 1);
    assert.equal((await sendOne({ smtp: { ...s.smtp, pinSha256: s.pin } })).sent, 1, 'the pinned certificate');
    const otherPin = await sendOne({ smtp: { ...s.smtp, pinSha256: 'a'.repeat(64) } });
    assert.equal(otherPin.sent, 0, 'another certificate than the pinned one gets nothing');
    assert.ok(
      otherPin.logs.every((l) => !/owner@example\.com/.test(l)),
      'the log names no address',
    );
    const otherCa = await createTestCa('Someone else');
    assert.equal((await sendOne({ smtp: { ...s.smtp, caPem: otherCa.certPem } })).sent, 0, 'an unknown CA');
    assert.equal(s.got.length, 2);
    assert.ok(
      s.got.every((m) => m.secure && m.size > 0),
      'both went over TLS',
    );
  } finally {
    await s.close();
  }
  const plain = await smtpServer({ noTls: true });
  try {
    assert.equal((await sendOne({ smtp: plain.smtp })).sent, 0, 'a server that offers no STARTTLS gets nothing');
    assert.equal(plain.got.length, 0);
  } finally {
    await plain.close();
  }
});
