// An owner action that cannot be undone from the page (unpairing every hub) is behind a confirmation that asks for
// the password again (issue 17): the dashboard links to the confirmation instead of posting at once, a wrong password
// does nothing and is journalled, and the right one unpairs the hub.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { startTestHub } from '../hub/support.ts';

let fleet: TestFleet;
let plug: DeviceAgent;

before(async () => {
  fleet = await makeFleet(['plug']);
  plug = await startAgent(fleet.units.plug!, join(fleet.work, 'state-plug'));
});
after(async () => {
  await plug?.close();
});

test('unpairing every hub asks for the password again; a wrong one changes nothing', async () => {
  const hub = await startTestHub(fleet.work, 'hub');
  try {
    plug.hub.openPairingWindow('button');
    await hub.pair({ address: `127.0.0.1:${plug.hub.port}` });
    assert.equal(plug.hub.hubs().length, 1);
    const c = await WebClient.for(plug.web.url, fleet.units.plug!);
    assert.equal((await c.login(fleet.units.plug!.adminPassword!)).status, 303);
    const home = await c.get('/');
    const csrf = WebClient.csrfOf(home.body);
    assert.match(home.body, /<a class="button danger" href="\/confirm\/unpair-hubs">Unpair every hub<\/a>/);
    assert.doesNotMatch(home.body, /<form method="post" action="\/api\/actions\/unpair-hubs"/, 'no one-click form');

    const page = await c.get('/confirm/unpair-hubs');
    assert.equal(page.status, 200);
    assert.match(page.body, /forgets it at once/);
    assert.match(page.body, /name="password" type="password"/);

    const wrong = await c.send('POST', '/api/actions/unpair-hubs', { form: { csrf, password: 'not-the-password' } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body, /Your password is wrong: nothing was done\./);
    assert.equal(plug.hub.hubs().length, 1, 'the hub is still paired');
    const none = await c.send('POST', '/api/actions/unpair-hubs', { json: { csrf } });
    assert.equal(none.status, 400, 'no password, no action');
    assert.equal(plug.hub.hubs().length, 1);

    const right = await c.send('POST', '/api/actions/unpair-hubs', {
      form: { csrf, password: fleet.units.plug!.adminPassword! },
    });
    assert.equal(right.status, 303);
    assert.equal(plug.hub.hubs().length, 0, 'unpaired');
    const journal = await plug.journal.list({ limit: 200, tier: 'security' });
    assert.ok(journal.some((e) => e.event === 'control' && e.result === 'failure' && /unpair-hubs/.test(e.detail!)));
    assert.ok(journal.some((e) => e.event === 'control' && e.result === 'success' && e.detail === 'unpair-hubs'));
  } finally {
    await hub.close();
  }
});

test('a factory reset from the page asks for the password again, erases the owner, lets the label in', async () => {
  const unit = fleet.units.plug!;
  const c = await WebClient.for(plug.web.url, unit);
  assert.equal((await c.login(unit.adminPassword!)).status, 303);
  const csrf = WebClient.csrfOf((await c.get('/')).body);
  const ownPassword = 'violet tractor harbour 7';
  const changed = await c.send('POST', '/password', {
    form: { csrf, currentPassword: unit.adminPassword!, newPassword: ownPassword, confirmPassword: ownPassword },
  });
  assert.equal(changed.status, 303, 'the owner sets a password of their own');
  if ((await c.get('/')).status !== 200) assert.equal((await c.login(ownPassword)).status, 303);
  const home = await c.get('/');
  const csrfNow = WebClient.csrfOf(home.body);
  assert.match(home.body, /<a class="button danger" href="\/confirm\/factory-reset">Reset to factory settings<\/a>/);
  assert.match((await c.get('/confirm/factory-reset')).body, /This cannot be undone\./);

  const wrong = await c.send('POST', '/api/actions/factory-reset', {
    form: { csrf: csrfNow, password: unit.adminPassword! },
  });
  assert.equal(wrong.status, 401, "the label's password is not the owner's any more");
  assert.equal((await c.get('/')).status, 200, 'nothing was erased: the session lives');

  const right = await c.send('POST', '/api/actions/factory-reset', { form: { csrf: csrfNow, password: ownPassword } });
  assert.equal(right.status, 303);
  assert.equal((await c.get('/')).status, 303, 'the session ended with the reset');
  const fresh = await WebClient.for(plug.web.url, unit);
  assert.equal((await fresh.login(unit.adminPassword!)).status, 303, "the label's password works again");
  const journal = await plug.journal.list({ limit: 200, tier: 'security' });
  assert.ok(journal.some((e) => e.event === 'factory-reset' && e.surface === 'web' && e.result === 'success'));
});
