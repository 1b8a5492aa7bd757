import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  telemetryChart,
  devicePage,
  loginPage,
  householdPage,
  accountPage,
  resetPage,
  verifyPage,
  acceptInvitationPage,
} from './app-pages.ts';
import { getModel } from '../models/index.ts';

test('the chart draws numeric series as inline SVG with a text alternative, and escapes names', () => {
  const rows = [1, 2, 3].map((i) => ({
    serial: 'PLG-AAAAAAAAAA',
    seq: i,
    at: i,
    receivedAt: 1_700_000_000_000 + i * 1000,
    values: { energy: i * 10, power: i % 2 === 0, label: 'x' },
  }));
  const svg = telemetryChart(rows);
  assert.match(svg, /^<svg class="chart" role="img"/);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 2, 'energy and power; the string value is not charted');
  assert.match(svg, /<desc id="chart-desc">Energy: 3 readings, latest 30; Power: 3 readings, latest Off<\/desc>/);
  const named = telemetryChart(rows, getModel('plug'));
  assert.match(named, /<desc id="chart-desc">Energy use: 3 readings, latest 30 W; Power: 3 readings, latest Off</);
  assert.match(named, />Energy use: 30 W<\/text>/, 'the legend says it with the unit too');
  assert.doesNotMatch(svg, /style=|<script|href=/, 'no inline style, script or link');
  assert.match(telemetryChart([]), /No telemetry yet/);
});

test('pages escape every value and carry the CSRF token on every form', () => {
  const html = devicePage(
    { title: '<t>', csrf: 'tok"en', email: 'e' },
    {
      device: {
        serial: 'PLG-AAAAAAAAAA',
        model: '<b>',
        ownerId: 'x',
        claimedAt: 1,
        claimWindowUntil: 0,
        online: true,
        seenAt: 1,
        state: { at: 1, capabilities: [{ id: 'power', value: '<img>' }] },
      },
      telemetry: [],
      controls: [{ capability: 'power', actions: ['on', 'off'] }],
      error: '<script>',
    },
  );
  assert.doesNotMatch(html, /<script>|<img>|<b>/);
  const forms = html.match(/<form method="post"[^]*?<\/form>/g) ?? [];
  assert.ok(forms.length >= 4);
  for (const f of forms) assert.match(f, /name="csrf" value="tok&#34;en"/);
  assert.match(loginPage({ csrf: 'c', email: '"><x' }), /value="&#34;&#62;&#60;x"/);
});

/** A plug claimed by its owner and online. */
const CLAIMED_PLUG = {
  serial: 'PLG-AAAAAAAAAA',
  model: 'plug',
  ownerId: 'x',
  claimedAt: 1,
  claimWindowUntil: 0,
  online: true,
  seenAt: 1,
  state: null,
};

test("a revoked unit's page tells its owner it is blocked, when and why, instead of online or offline", () => {
  const device = { ...CLAIMED_PLUG, revoked: { reason: 'stolen' as const, at: Date.UTC(2026, 11, 7, 2, 0, 0) } };
  const html = devicePage({ title: 't', csrf: 'c', email: 'e' }, { device, telemetry: [], controls: [] });
  assert.match(html, /Blocked by the maker on 2026-12-07 02:00:00 UTC because it was reported stolen/);
  assert.doesNotMatch(html, /<dd>online<\/dd>/);
});

test("a device's page shows the support end its model promises, and says when it has passed", () => {
  const page = (endsOn: string): string => {
    const modelSpec = { ...getModel('plug'), supportPeriod: { endsOn } };
    return devicePage(
      { title: 't', csrf: 'c', email: 'e' },
      { device: { ...CLAIMED_PLUG, modelSpec }, telemetry: [], controls: [] },
    );
  };
  assert.match(page('2099-06-30'), /<dt>Security updates until<\/dt><dd>2099-06-30<\/dd>/);
  assert.match(page('2020-01-31'), /<dd>2020-01-31 \(ended: no more security updates\)<\/dd>/);
});

test('an extension the unit learned through a signed update shows in the app; an earlier report never shortens', () => {
  const page = (reported: string): string => {
    const modelSpec = { ...getModel('plug'), supportPeriod: { endsOn: '2020-01-31' } };
    const running = { version: '1.0.0', securityVersion: 1, slot: 'a' as const, supportEndsOn: reported };
    const firmware = { running, reportedAt: 1, lastOutcome: null };
    return devicePage(
      { title: 't', csrf: 'c', email: 'e' },
      { device: { ...CLAIMED_PLUG, modelSpec, firmware }, telemetry: [], controls: [] },
    );
  };
  assert.match(page('2099-06-30'), /<dt>Security updates until<\/dt><dd>2099-06-30<\/dd>/);
  assert.match(page('2019-01-01'), /<dd>2020-01-31 \(ended: no more security updates\)<\/dd>/);
});

test('the household, account and reset pages escape values, carry the CSRF token and need no script', () => {
  const frame = { title: 'T', csrf: 'tok"en', email: 'e' };
  const people = [
    { memberId: 'id"1', email: '<b>@example.com', role: 'guest', until: Date.UTC(2030, 0, 2), localName: 'c<l' },
  ];
  const pages = [
    householdPage(frame, { people, error: '<script>' }),
    accountPage(frame, { email: '<i>@example.com', verified: false }),
    resetPage({ csrf: 'tok"en', token: 'a"b' }),
    verifyPage({ csrf: 'tok"en', token: 'a"b' }),
    acceptInvitationPage(frame, { token: 'a"b' }),
  ];
  for (const html of pages) {
    assert.doesNotMatch(html, /<script|\sstyle=|\son[a-z]+=/i);
    const forms = html.match(/<form method="post"/g)?.length ?? 0;
    assert.equal((html.match(/name="csrf" value="tok&#34;en"/g) ?? []).length, forms, 'every form has the token');
  }
  assert.match(pages[0]!, /&#60;b&#62;@example\.com <span class="muted">guest until 2030-01-02[^<]*, named c&#60;l on/);
  assert.match(pages[0]!, /name="memberId" value="id&#34;1"/);
  assert.match(pages[1]!, /data-verified="false"/);
  assert.match(pages[1]!, /action="\/app\/account\/password"/);
  assert.match(pages[1]!, /href="\/app\/account\/export"/);
  assert.match(pages[2]!, /name="token" value="a&#34;b"/);
});

test('a member or guest sees no release on a shared device', () => {
  const device = {
    serial: 'PLG-AAAAAAAAAA',
    model: 'plug',
    ownerId: 'x',
    claimedAt: 1,
    claimWindowUntil: 0,
    online: true,
    seenAt: 1,
    state: null,
  };
  const o = { device, telemetry: [], controls: [] };
  const frame = { title: 'T', csrf: 'c', email: 'e' };
  assert.match(devicePage(frame, { ...o, role: 'owner' }), /Release this device/);
  assert.doesNotMatch(devicePage(frame, { ...o, role: 'member' }), /Release this device/);
  assert.match(devicePage(frame, { ...o, role: 'guest' }), /Shared with you as guest/);
});

test("a device's page shows every value the cloud knows in the model's words, a labelled button per action", () => {
  const state = {
    at: Date.UTC(2026, 11, 7, 21, 51, 15),
    capabilities: [
      { id: 'power', value: false },
      { id: 'energy', value: 12 },
    ],
  };
  const html = devicePage(
    { title: 't', csrf: 'c', email: 'e' },
    {
      device: { ...CLAIMED_PLUG, state },
      telemetry: [],
      controls: [{ capability: 'power', actions: ['on', 'off', 'toggle'] }],
    },
  );
  assert.match(html, /<strong>Power<\/strong>[^]*?data-value-of="power">Off</);
  assert.match(html, /<strong>Energy use<\/strong>[^]*?data-value-of="energy">12 W</);
  const buttons = [...html.matchAll(/<button type="submit" class="secondary" aria-label="([^"]*)">([^<]*)</g)];
  assert.deepEqual(
    buttons.map((b) => [b[1], b[2]]),
    [
      ['Power: Turn on', 'Turn on'],
      ['Power: Turn off', 'Turn off'],
      ['Power: Switch over', 'Switch over'],
    ],
    'the energy reading has no button',
  );
  assert.match(html, /As the device last reported them, on 2026-12-07 21:51:15 UTC\./);
  assert.match(html, /<dt>Status<\/dt><dd>Online: the device is connected to the cloud\.<\/dd>/);
});

test("a lock's bolt shows to the owner as a state controlled only at home, and not at all to a guest", () => {
  const device = {
    ...CLAIMED_PLUG,
    serial: 'LCK-AAAAAAAAAA',
    model: 'lock',
    state: { at: 1, capabilities: [{ id: 'bolt', value: 'locked' }] },
  };
  const page = (role: string): string =>
    devicePage({ title: 't', csrf: 'c', email: 'e' }, { device, telemetry: [], controls: [], role });
  assert.match(page('owner'), /<strong>Bolt<\/strong>[^]*?data-value-of="bolt">Locked<[^]*?controlled only at home/);
  assert.doesNotMatch(page('owner'), /aria-label="Bolt/, 'no button: the cloud offers no sensitive control');
  assert.doesNotMatch(page('guest'), /Bolt|Locked/);
  assert.doesNotMatch(page('stranger'), /Locked/, 'a role the page does not know sees what a guest sees');
});

test('the status is a sentence: offline says when the cloud last heard from the device; never reached, says so', () => {
  const page = (device: typeof CLAIMED_PLUG): string =>
    devicePage({ title: 't', csrf: 'c', email: 'e' }, { device, telemetry: [], controls: [] });
  const seenAt = Date.UTC(2026, 11, 7, 21, 0, 0);
  assert.match(
    page({ ...CLAIMED_PLUG, online: false, seenAt }),
    /<dd>Offline: the cloud last heard from the device on 2026-12-07 21:00:00 UTC\.<\/dd>/,
  );
  assert.match(page({ ...CLAIMED_PLUG, online: false, seenAt: 0 }), /<dd>Not connected yet: /);
  assert.match(page(CLAIMED_PLUG), /The device has not reported its values yet\./);
});
