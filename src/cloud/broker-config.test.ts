import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import {
  createCertificateAuthority,
  issueServerCertificate,
  loadCaSigner,
  readRevocationList,
} from '../identity/index.ts';
import {
  renderMosquittoConf,
  renderMosquittoAcl,
  validateMosquittoSettings,
  renderDynsecSeed,
  renderCrlPathUnit,
  dynsecAdminName,
  writeBrokerConfig,
} from './broker-config.ts';

const paths = {
  aclFile: '/b/acl',
  enrolmentAclFile: '/b/acl-enrolment',
  caFile: '/b/ca.pem',
  certFile: '/b/c.pem',
  keyFile: '/b/k.pem',
  persistenceDir: '/b/data',
};

test('the Mosquitto configuration requires certificates and takes the identity from them', () => {
  const conf = renderMosquittoConf(validateMosquittoSettings(), paths);
  for (const line of [
    'allow_anonymous false',
    'require_certificate true',
    'use_identity_as_username true',
    'use_username_as_clientid true',
    'tls_version tlsv1.3',
    'persistence true',
    'max_queued_messages 2000000',
    'acl_file /b/acl',
    'listener 8883 127.0.0.1',
    'persistence_location /b/data/',
  ]) {
    assert.ok(conf.split('\n').includes(line), line);
  }
  // use_username_as_clientid must follow the listener it belongs to, or Mosquitto ignores it there.
  assert.ok(conf.indexOf('use_username_as_clientid') > conf.indexOf('listener '));
});

test('the ACL confines devices to their own topics and lets only the cloud instances read', () => {
  const acl = renderMosquittoAcl(validateMosquittoSettings({ instances: ['1', 'b'] }));
  assert.match(acl, /^user bulwark-cloud-1$/m);
  assert.match(acl, /^user bulwark-cloud-b$/m);
  assert.match(acl, /^topic read devices\/\+\/telemetry$/m);
  assert.match(acl, /^pattern write devices\/%u\/telemetry$/m);
  assert.match(acl, /^pattern read devices\/%u\/commands$/m);
  assert.doesNotMatch(acl, /^pattern (read|readwrite) devices\/%u\/telemetry$/m, 'a device does not read telemetry');
  assert.doesNotMatch(acl, /#/.source === '#' ? /^topic .*#/m : /$^/);
});

test('devices with operational certificates and enrolment get separate listeners, each with its own rules', () => {
  const settings = validateMosquittoSettings({ port: 9000 });
  assert.equal(settings.enrolmentPort, 9001, 'the enrolment listener is next to the device one by default');
  const conf = renderMosquittoConf(settings, { ...paths, trustFile: '/b/device-cas.pem', crlFile: '/b/crl.pem' });
  const lines = conf.split('\n');
  assert.ok(lines.includes('per_listener_settings true'));
  const device = conf.slice(conf.indexOf('listener 9000 '), conf.indexOf('listener 9001 '));
  const enrolment = conf.slice(conf.indexOf('listener 9001 '));
  assert.match(device, /^cafile \/b\/device-cas\.pem$/m, 'the device listener trusts the bundle the cloud keeps');
  assert.match(device, /^acl_file \/b\/acl$/m);
  assert.match(enrolment, /^cafile \/b\/ca\.pem$/m, 'the enrolment listener trusts the manufacturer CA');
  assert.match(enrolment, /^acl_file \/b\/acl-enrolment$/m);
  for (const part of [device, enrolment]) {
    assert.match(part, /^allow_anonymous false$/m, 'per listener, or Mosquitto applies its default there');
    assert.match(part, /^crlfile \/b\/crl\.pem$/m);
    assert.match(part, /^require_certificate true$/m);
  }
  assert.throws(() => validateMosquittoSettings({ port: 9000, enrolmentPort: 9000 }), { key: 'enrolmentPort' });
  assert.throws(() => validateMosquittoSettings({ port: 65_535 }), { key: 'enrolmentPort' });
});

test('on the enrolment listener a birth certificate may only ask for its operational certificate', () => {
  const acl = renderMosquittoAcl(validateMosquittoSettings({ instances: ['1'] }), 'enrolment');
  const patterns = acl.split('\n').filter((l) => l.startsWith('pattern '));
  assert.deepEqual(patterns, ['pattern write devices/%u/enrol', 'pattern read devices/%u/certificate']);
  assert.match(acl, /^user bulwark-cloud-1$/m, 'the cloud instances connect there');
  assert.match(acl, /^topic read devices\/\+\/telemetry$/m);
});

test('queue bounds that would drop acknowledged messages are refused', () => {
  assert.throws(() => validateMosquittoSettings({ maxQueuedMessages: 1000 }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'maxQueuedMessages',
  });
  assert.throws(() => validateMosquittoSettings({ instances: ['Bad/Name'] }), { code: 'INVALID_INPUT' });
  assert.throws(() => validateMosquittoSettings({ host: '1.2.3.4\nlistener 1883' }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'host',
  });
  assert.throws(() => validateMosquittoSettings({ user: 'root\nallow_anonymous true' }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'user',
  });
});

test('with revocation the configuration loads the CRL and the dynamic-security plugin, keeping every rule', () => {
  const settings = validateMosquittoSettings({ pidFile: '/run/mosquitto/mosquitto.pid' });
  const plain = renderMosquittoConf(settings, paths);
  const conf = renderMosquittoConf(settings, { ...paths, crlFile: '/b/crl.pem', dynsecFile: '/b/dynsec.json' });
  const lines = conf.split('\n');
  for (const line of [
    'crlfile /b/crl.pem',
    'plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
    'plugin_opt_config_file /b/dynsec.json',
    'pid_file /run/mosquitto/mosquitto.pid',
  ])
    assert.ok(lines.includes(line), line);
  for (const line of plain.split('\n').filter((l) => l && !l.startsWith('#'))) assert.ok(lines.includes(line), line);
  assert.ok(conf.indexOf('crlfile') > conf.indexOf('listener '), 'the CRL belongs to the listener');
  assert.ok(conf.indexOf('plugin ') > conf.indexOf('listener 8884 '), "the plugin is the enrolment listener's");
  assert.doesNotMatch(plain, /crlfile|plugin/, 'no revocation lines without the files');
});

test('the plugin seed knows only the admin identities, allowed the control topic and nothing else', () => {
  const seed = JSON.parse(renderDynsecSeed(validateMosquittoSettings({ instances: ['1', 'eu'] }))) as {
    defaultACLAccess: Record<string, boolean>;
    clients: Array<{ username: string; roles: Array<{ rolename: string }> }>;
    roles: Array<{ rolename: string; acls: Array<{ acltype: string; topic: string; allow: boolean }> }>;
  };
  assert.deepEqual(
    seed.clients.map((c) => c.username),
    ['bulwark-admin-1', 'bulwark-admin-eu'],
  );
  assert.equal(seed.defaultACLAccess.publishClientSend, false, 'a disabled device may publish nothing');
  assert.equal(seed.defaultACLAccess.subscribe, false);
  const topics = seed.roles.flatMap((r) =>
    r.acls.filter((a) => a.acltype !== 'unsubscribePattern').map((a) => a.topic),
  );
  assert.ok(topics.length > 0 && topics.every((t) => t === '$CONTROL/dynamic-security/#'), topics.join());
  assert.equal(dynsecAdminName('eu'), 'bulwark-admin-eu');
  assert.match(renderCrlPathUnit('/b/crl.pem'), /^PathChanged=\/b\/crl\.pem$/m);
});

test('a plugin or pid file path that could inject a line or is not absolute is refused', () => {
  for (const dynsecPluginPath of ['relative.so', '/x/../y.so', '/a b.so', '/x.so\nallow_anonymous true', '/x.txt'])
    assert.throws(() => validateMosquittoSettings({ dynsecPluginPath }), {
      code: 'CLOUD_CONFIG_INVALID',
      key: 'dynsecPluginPath',
    });
  assert.throws(() => validateMosquittoSettings({ pidFile: 'm.pid' }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'pidFile',
  });
});

test('with the CA, writing makes an empty CRL, the seed and 0600 admin keys, and keeps an existing CRL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-broker-config-'));
  try {
    const root = await createCertificateAuthority('Acme Device CA');
    const ca = await loadCaSigner(root.certPem, root.privateKeyPem);
    const server = await issueServerCertificate(ca, ['localhost']);
    const o = {
      outDir: dir,
      caCertPem: root.certPem,
      server: { certPem: server.certPem, keyPem: server.privateKeyPem },
      ca,
      settings: { instances: ['1'] },
    };
    const w = await writeBrokerConfig(o);
    assert.equal(w.paths.crlFile, join(dir, 'crl.pem'));
    const crl = await readRevocationList(await readFile(join(dir, 'crl.pem'), 'utf8'), root.certPem);
    assert.deepEqual(crl.serialNumbers, []);
    assert.ok((crl.nextUpdate?.getTime() ?? 0) > Date.now() + 29 * 86_400_000, 'valid about 30 days');
    assert.equal((await stat(join(dir, 'crl.pem'))).mode & 0o777, 0o644);
    const admin = new X509Certificate(await readFile(join(dir, 'bulwark-admin-1-cert.pem'), 'utf8'));
    assert.ok(
      admin.subject.split('\n').includes('CN=bulwark-admin-1') &&
        admin.verify(new X509Certificate(root.certPem).publicKey),
    );
    assert.equal((await stat(join(dir, 'bulwark-admin-1-key.pem'))).mode & 0o777, 0o600);
    assert.match(await readFile(w.confFile, 'utf8'), /^crlfile .*crl\.pem$/m);
    // A second run keeps a CRL that may list revocations.
    const before = await readFile(join(dir, 'crl.pem'), 'utf8');
    await writeBrokerConfig(o);
    assert.equal(await readFile(join(dir, 'crl.pem'), 'utf8'), before);
    await assert.rejects(writeBrokerConfig({ ...o, caCertPem: (await createCertificateAuthority('X')).certPem }), {
      code: 'CLOUD_CONFIG_INVALID',
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
