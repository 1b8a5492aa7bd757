// The journal page in the owner's words (issue 17), on a real agent over HTTPS: each record a sentence with the raw
// record one click away (no script), one tier at a time, a filter, and paging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import type { DeviceAgent } from '../../src/device/index.ts';

let fleet: TestFleet;
let plug: DeviceAgent;

before(async () => {
  fleet = await makeFleet(['plug']);
  plug = await startAgent(fleet.units.plug!, join(fleet.work, 'state-plug'));
});
after(async () => {
  await plug?.close();
});

test('the journal says what happened in sentences, filters them and pages through them', async () => {
  const unit = fleet.units.plug!;
  for (let i = 0; i < 3; i++) {
    const stranger = await WebClient.for(plug.web.url, unit, '127.0.0.9');
    assert.equal((await stranger.login(`wrong-password-${i}`)).status, 401);
  }
  const c = await WebClient.for(plug.web.url, unit);
  assert.equal((await c.login(unit.adminPassword!)).status, 303);
  const page = await c.get('/journal');
  assert.equal(page.status, 200);
  assert.match(page.body, /Wrong password for admin from 127\.0\.0\.9/);
  assert.match(page.body, /admin logged in from 127\.0\.0\.1/);
  assert.match(page.body, /<details><summary>Record<\/summary><dl class="raw"><dt>surface<\/dt><dd>web<\/dd>/);
  assert.match(page.body, /<strong aria-current="page">Security events<\/strong>/);

  const filtered = await c.get('/journal?tier=security&filter=127.0.0.9');
  const sentences = [...filtered.body.matchAll(/<td(?: class="bad")?>([^<]*)<\/td><td><details>/g)].map((m) => m[1]);
  assert.ok(sentences.length >= 3, sentences.join(' | '));
  assert.ok(
    sentences.every((s) => s!.includes('127.0.0.9')),
    'only what the filter names',
  );
  assert.match(filtered.body, /value="127\.0\.0\.9"/, 'the filter is kept in its box');

  for (let i = 0; i < 60; i++) await c.get('/api/status'); // more connection records than one page holds
  const first = await c.get('/journal?tier=connection');
  assert.match(first.body, /Page 1 of [2-9]/);
  assert.match(first.body, /href="\/journal\?tier=connection&#38;page=2">Older<\/a>/);
  const second = await c.get('/journal?tier=connection&page=2');
  assert.match(second.body, /Page 2 of/);
  assert.match(second.body, /href="\/journal\?tier=connection">Newer<\/a>/);
  assert.equal((await c.get('/journal?tier=connection&page=9999')).status, 200, 'a page past the end shows the first');
});
