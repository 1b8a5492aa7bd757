import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getModel } from '../models/index.ts';
import type { HubDeviceView } from './hub.ts';
import { hubDashboard, readableTime } from './web-pages.ts';

/** A paired device as the hub shows it: the plug by its button, or the lock by its setup code. */
function paired(model: 'plug' | 'lock', o: Partial<HubDeviceView> = {}): HubDeviceView {
  const spec = getModel(model);
  return {
    serial: model === 'plug' ? 'PLG-AAAAAAAAAA' : 'LCK-AAAAAAAAAA',
    model,
    modelName: spec.name,
    capabilities: spec.capabilities,
    address: '127.0.0.1:5541',
    mode: model === 'plug' ? 'push-button' : 'setup-code',
    pairedAt: '2026-12-07T21:51:13.951Z',
    pin: `sha256:${'ab'.repeat(32)}`,
    connected: true,
    access: spec.capabilities.filter((c) => !c.sensitive).map((c) => c.id),
    notGranted: spec.capabilities.filter((c) => c.sensitive).map((c) => c.id),
    state: model === 'plug' ? { power: true, energy: 61 } : { bolt: 'locked' },
    ...o,
  };
}

const owner = { user: { name: 'admin', role: 'owner' as const } };

test("a device card says its link and its pairing in sentences, and keeps the device's key folded away", () => {
  const html = hubDashboard([paired('plug')], 'c', owner);
  assert.match(html, /<dt>Connection<\/dt><dd>Connected\. The hub and the device each checked the other&#39;s key/);
  assert.match(html, /<dt>Paired<\/dt><dd>7 December 2026 at 21:51 UTC, by pressing the device&#39;s button<\/dd>/);
  assert.match(html, /<details><summary>Device key<\/summary>[^]*?<dd>sha256:(ab){32}<\/dd><\/dl><\/details>/);
  assert.doesNotMatch(html, /mutual TLS|2026-12-07T/);
  const away = hubDashboard([paired('plug', { connected: false })], 'c', owner);
  assert.match(away, /<dd>Not connected right now\. The hub keeps trying to reach the device\.<\/dd>/);
  assert.equal(readableTime('not a time'), 'not a time');
});

test("capability rows use the model's names and units; each button says what it does, for which device", () => {
  const html = hubDashboard([paired('plug')], 'c', owner);
  assert.match(html, /<strong>Power<\/strong>[^]*?data-value-of="power">On</);
  assert.match(html, /<strong>Energy use<\/strong>[^]*?data-value-of="energy">61 W</);
  const labels = [...html.matchAll(/aria-label="([^"]*)">([^<]*)<\/button>/g)].map((m) => `${m[1]} | ${m[2]}`);
  assert.deepEqual(labels, [
    'Power: Turn on (PLG-AAAAAAAAAA) | Turn on',
    'Power: Turn off (PLG-AAAAAAAAAA) | Turn off',
    'Power: Switch over (PLG-AAAAAAAAAA) | Switch over',
    'Take away hub access: Power (PLG-AAAAAAAAAA) | Take away hub access',
    'Take away hub access: Energy use (PLG-AAAAAAAAAA) | Take away hub access',
    'Unpair this device: Smart Plug PLG-AAAAAAAAAA | Unpair this device',
  ]);
  // WCAG 2.5.3 (label in name): a person using speech says the words they see.
  for (const l of labels) assert.ok(l.split(' | ')[0]!.includes(l.split(' | ')[1]!), `${l}: the name holds the words`);
  assert.match(html, /"Take away hub access" stops them working that control through the hub/);
});

test('a sensitive capability the hub may not use says why and offers the owner to allow it, a member no button', () => {
  const html = hubDashboard([paired('lock')], 'c', owner);
  assert.match(
    html,
    /data-value-of="bolt">Locked<\/span><br><span class="muted">The hub may not use this: it is sensitive/,
  );
  assert.match(html, /action="\/devices\/LCK-AAAAAAAAAA\/grant\/bolt"[^]*?>Let the hub use it<\/button>/);
  assert.doesNotMatch(html, /aria-label="Bolt: Lock/, 'no control before it is allowed');
  const member = hubDashboard([paired('lock')], 'c', { user: { name: 'bea', role: 'member' } });
  assert.doesNotMatch(member, /Let the hub use it|Unpair|Pair a device/);
});

test('the re-pairing choice is a checkbox with its label beside it and its explanation apart', () => {
  const html = hubDashboard([], 'c', owner);
  const label =
    /<label class="check" for="keep-grants">(<input [^>]*>) ([^<]*)<\/label><p class="muted" id="([^"]*)">/.exec(html);
  assert.ok(label, 'the box sits inside its label, the explanation in a paragraph after it');
  assert.equal(
    label[1],
    '<input type="checkbox" id="keep-grants" name="keepGrants" aria-describedby="keep-grants-hint">',
  );
  assert.equal(label[2], 'Keep what the hub was allowed to use');
  assert.equal(label[3], 'keep-grants-hint', 'the explanation describes the box');
});

test('every value on a card is escaped', () => {
  const hostile = paired('plug', {
    serial: '<s>',
    modelName: '<m>',
    address: '<a>',
    pin: '<p>',
    pairedAt: '<t>',
    state: { power: '<v>' },
  });
  assert.doesNotMatch(hubDashboard([hostile], '"c', owner), /<s>|<m>|<a>|<p>|<t>|<v>|value=""c"/);
});
