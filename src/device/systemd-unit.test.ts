import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { renderSystemdUnit, SYSTEMD_HARDENING } from './systemd-unit.ts';

const base = {
  bundleDir: '/opt/bulwark/bundle',
  stateDir: '/var/lib/bulwark',
  nodePath: '/usr/bin/node',
  bulwarkBin: '/opt/bulwark/bin/bulwark.js',
};

function lines(text: string): string[] {
  return text.split('\n');
}

test('the unit runs `bulwark device run` as the unprivileged bulwark user by default', () => {
  const unit = lines(renderSystemdUnit(base));
  assert.ok(unit.includes('User=bulwark'));
  assert.ok(unit.includes('Group=bulwark'));
  assert.ok(
    unit.includes(
      'ExecStart=/usr/bin/node /opt/bulwark/bin/bulwark.js device run ' +
        '--bundle /opt/bulwark/bundle --state /var/lib/bulwark --host 127.0.0.1 --web-port 8443 --hub-port 5541',
    ),
  );
});

test('every hardening directive is in the unit, and only the state folder is writable', () => {
  const unit = lines(renderSystemdUnit(base));
  for (const [key, value] of SYSTEMD_HARDENING) assert.ok(unit.includes(`${key}=${value}`), `${key}=${value}`);
  assert.ok(unit.includes('ReadWritePaths=/var/lib/bulwark'));
  assert.ok(unit.includes('ReadOnlyPaths=/opt/bulwark/bundle'));
  assert.equal(unit.filter((l) => l.startsWith('ReadWritePaths=')).length, 1);
});

test('no capability is granted unless a port below 1024 needs binding', () => {
  const high = lines(renderSystemdUnit(base));
  assert.ok(high.includes('CapabilityBoundingSet='));
  assert.ok(high.includes('AmbientCapabilities='));
  const low = lines(renderSystemdUnit({ ...base, webPort: 443 }));
  assert.ok(low.includes('CapabilityBoundingSet=CAP_NET_BIND_SERVICE'));
  assert.ok(low.includes('AmbientCapabilities=CAP_NET_BIND_SERVICE'));
});

test('the cloud and update settings are passed on when given', () => {
  const unit = renderSystemdUnit({
    ...base,
    cloudUrl: 'mqtts://cloud.example:8883',
    updateUrl: 'https://u.example/r',
    updateConfig: '/etc/bulwark/update.json',
  });
  const exec = lines(unit).find((l) => l.startsWith('ExecStart='))!;
  assert.ok(
    exec.endsWith(
      ' --cloud mqtts://cloud.example:8883 --update-url https://u.example/r ' +
        '--update-config /etc/bulwark/update.json',
    ),
    exec,
  );
});

function refused(options: Parameters<typeof renderSystemdUnit>[0], key: string): void {
  assert.throws(
    () => renderSystemdUnit(options),
    (err: unknown) => {
      assert.ok(hasCode(err, 'DEVICE_UNIT_INVALID'), String(err));
      assert.equal((err as { key?: string }).key, key);
      return true;
    },
    key,
  );
}

test('root, and account names systemd would not take, are refused', () => {
  refused({ ...base, user: 'root' }, 'user');
  refused({ ...base, user: 'bulwark', group: 'root' }, 'group');
  refused({ ...base, user: 'Bad Name' }, 'user');
});

test('paths systemd would split or expand, relative paths and the root folder are refused', () => {
  refused({ ...base, stateDir: '/var/lib/my state' }, 'stateDir');
  refused({ ...base, stateDir: '/var/lib/%h' }, 'stateDir');
  refused({ ...base, bundleDir: 'bundle' }, 'bundleDir');
  refused({ ...base, bundleDir: '/opt/../etc' }, 'bundleDir');
  refused({ ...base, stateDir: '/' }, 'stateDir');
  refused({ ...base, updateConfig: '/etc/"x"' }, 'updateConfig');
});

test('ports out of range, odd hosts and URLs with specifiers or the wrong scheme are refused', () => {
  refused({ ...base, webPort: 0 }, 'webPort');
  refused({ ...base, hubPort: 70_000 }, 'hubPort');
  refused({ ...base, host: 'a b' }, 'host');
  refused({ ...base, cloudUrl: 'https://cloud.example' }, 'cloudUrl');
  refused({ ...base, cloudUrl: 'mqtts://cloud.example/%h' }, 'cloudUrl');
  refused({ ...base, updateUrl: 'https://u.example/$HOME' }, 'updateUrl');
});
