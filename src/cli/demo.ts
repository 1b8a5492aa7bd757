/**
 * `bulwark demo`: walks the reference system through a device's life on one machine, on
 * embedded defaults. Each step prints what a person would want to see; the demo exits 0 only
 * when every step worked.
 */
import type { Command } from 'commander';
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DemoError } from './errors.ts';

/** A provisioned unit as the demo's steps use it. */
interface DemoUnitRecord {
  serial: string;
  dir: string;
  adminPassword?: string;
  setupCode: string;
  claimCode: string;
}

/** The demo's units by model id. */
type DemoUnits = Record<string, DemoUnitRecord>;

function say(text: string): void {
  process.stdout.write(text + '\n');
}

/** Registers `bulwark demo` on `program`. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the reference system end to end on embedded defaults')
    .option('--dir <dir>', 'work folder (default: a new temporary folder)')
    .option('--keep-running', 'afterwards keep the devices, hub and cloud up for a browser until Ctrl-C')
    .action(async (o: { dir?: string; keepRunning?: boolean }) => {
      const work = o.dir ? resolve(o.dir) : await mkdtemp(join(tmpdir(), 'bulwark-demo-'));
      await mkdir(work, { recursive: true });
      await runDemo(work, { keepRunning: o.keepRunning === true });
    });
}

/** How the demo ends. */
export interface DemoOptions {
  /** After the story, keep the audited home up and print what to open in a browser, until SIGINT or SIGTERM. */
  readonly keepRunning?: boolean;
}

/** Runs the demo in `work`; throws (non-zero exit) when a step fails. */
export async function runDemo(work: string, options: DemoOptions = {}): Promise<void> {
  const { initFactory, provisionUnits } = await import('../identity/index.ts');
  const { listModels } = await import('../models/index.ts');
  say(`Bulwark demo in ${work}\n`);

  say('1. Factory: a manufacturer CA (ECDSA P-256) of our own');
  const factoryDir = join(work, 'factory');
  const config = await initFactory(factoryDir);
  say(`   maker ${config.maker}, CA ${config.caFingerprint.slice(0, 23)}...\n`);

  say('2. Provisioning one unit of each model: own keys, certificates, password, setup and claim codes');
  const unitsDir = join(work, 'units');
  const rows: string[][] = [['model', 'serial', 'risk', 'first password', 'updates until', 'sticker']];
  const units: DemoUnits = {};
  for (const model of listModels()) {
    const [unit] = await provisionUnits({ factoryDir, model: model.id, count: 1, outDir: unitsDir });
    units[model.id] = unit!;
    const firstPassword = model.initialPasswordMode === 'sticker' ? 'on sticker' : 'set at install';
    const updatesUntil = model.supportPeriod.endsOn;
    rows.push([model.id, unit!.serial, model.riskClass, firstPassword, updatesUntil, join(unit!.dir, 'sticker.png')]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) say('   ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  say(`\n   manifest for the cloud (public data only): ${join(unitsDir, 'manifest.json')}`);
  say(
    '   secrets (private keys, password hash, SPAKE2+ verifier) are mode 0600; ' +
      'the sticker is the only place a password is printed.\n',
  );

  await demoListeningService(work, units);
  await demoLocalHub(work, units);
  await demoSignedUpdates(work, factoryDir, units);
  await demoCloud(work, factoryDir, unitsDir, units);
  const { demoPolicyAndAudit } = await import('./demo-audit.ts');
  const { keepHomeRunning } = await import('./demo-keep-running.ts');
  const keepRunning = options.keepRunning === true;
  await demoPolicyAndAudit({
    work,
    factoryDir,
    unitsDir,
    units,
    say,
    hubPage: keepRunning,
    // Said while the servers are still up: with --keep-running, the story is over but the home is not.
    whileUp: async (home) => {
      say('\nDemo finished: all steps succeeded.');
      if (keepRunning) await keepHomeRunning({ home, units, say });
    },
  });
  for (const line of demoAfterword(work, { keptRunning: keepRunning })) say(line);
}

/** A path as a POSIX shell reads it back: bare when it has no special characters, else in single quotes. */
function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/**
 * The demo's last paragraph: the folder that holds what it made (kept), that its servers have stopped so the
 * addresses it printed no longer answer, how to look at the results and how to remove the folder.
 */
export function demoAfterword(work: string, o: { keptRunning: boolean; platform?: NodeJS.Platform }): string[] {
  const opener = (o.platform ?? process.platform) === 'darwin' ? 'open' : 'xdg-open';
  const audit = join(work, 'audit');
  return [
    `\nEverything this demo made stays in ${work}:`,
    `   audit reports  ${join(audit, 'plug.html')}, lock.html, camera.html (and .json beside them)`,
    `   policies       ${join(work, 'policy')}/<model>.html`,
    `   stickers       ${join(work, 'units')}/<serial>/sticker.png`,
    'Its devices, hub, cloud and release server have stopped: the addresses printed above no longer answer' +
      (o.keptRunning ? '.' : ' (`bulwark demo --keep-running` keeps them up until Ctrl-C).'),
    `To look at the results: ${opener} ${shellWord(join(audit, 'plug.html'))}  (or open any file above in a browser)`,
    `To remove it all: rm -rf ${shellWord(work)}`,
  ];
}

/** Step 6: the manufacturer connection: MQTT over mutual TLS, a claim that needs the code and the button. */
async function demoCloud(work: string, factoryDir: string, unitsDir: string, units: DemoUnits): Promise<void> {
  const { startCloud, OwnerApiClient, findMailedLink } = await import('../cloud/index.ts');
  const { startDeviceAgent, pressButton } = await import('../device/index.ts');
  const plug = units.plug!;
  say('\n6. Connect to the manufacturer: MQTT over mutual TLS 1.3, pinned manufacturer CA, claim by possession');
  const cloud = await startCloud({
    factoryDir,
    stateDir: join(work, 'cloud'),
    manifests: [join(unitsDir, 'manifest.json')],
    broker: { port: 0 },
    api: { port: 0 },
  });
  const state = join(work, 'state-cloud', plug.serial);
  const agent = await startDeviceAgent({
    bundleDir: plug.dir,
    stateDir: state,
    webPort: 0,
    hubPort: 0,
    mode: 'production',
    cloudUrl: cloud.brokerUrl,
  });
  try {
    say(
      `   cloud broker ${cloud.brokerUrl} (client certificates from the manufacturer CA only), ` +
        `owner API ${cloud.api.url}`,
    );
    const connected = await agent.cloud!.waitConnected(10_000);
    if (!connected) throw new DemoError('the plug did not connect to the cloud');
    say(`   ${plug.serial} connected with its factory device certificate (client id = certificate CN)`);
    const owner = new OwnerApiClient(cloud.api.url, cloud.credentials.caCertPem);
    const registered = await owner.register('owner@example.com', 'marble falcon tundra 42 softly');
    say(`   an owner registers -> ${registered.status} (the same answer for an address that has an account)`);
    // The demo has no mailbox: the cloud, with no SMTP server configured, wrote the message to its maildir.
    let link: string | undefined;
    for (let i = 0; i < 50 && !link; i++) {
      await new Promise((r) => setTimeout(r, 100));
      link = await findMailedLink(cloud.mail.maildir, 'owner@example.com', '/verify');
    }
    if (!link) throw new DemoError('no confirmation message reached the maildir');
    const confirmed = await owner.confirmAddress(new URL(link).searchParams.get('token') ?? '');
    say(`   the demo reads the confirmation link from ${cloud.mail.maildir} and follows it -> ${confirmed.status}`);
    const loggedIn = await owner.login('owner@example.com', 'marble falcon tundra 42 softly');
    say(`   the owner logs in -> ${loggedIn.status}`);
    const alone = await owner.claim(plug.serial);
    say(`   claim by serial number alone -> ${alone.status} ${alone.error?.code ?? ''}`);
    const early = await owner.claim(plug.serial, plug.claimCode);
    say(`   claim with the right code before the button is pressed -> ${early.status} ${early.error?.code ?? ''}`);
    say(`   the plug's button: ${await pressButton(state, 'press')}`);
    let claimed = await owner.claim(plug.serial, plug.claimCode);
    for (let i = 0; i < 20 && claimed.error?.code === 'CLAIM_WINDOW_CLOSED'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      claimed = await owner.claim(plug.serial, plug.claimCode);
    }
    if (claimed.status !== 201) {
      throw new DemoError(`the claim failed (${claimed.status} ${claimed.error?.code ?? ''})`);
    }
    say(`   claim with the code from the sticker inside the claim window -> ${claimed.status}`);
    const on = await owner.command(plug.serial, 'power', 'on');
    const power = agent.capabilities.list().find((c) => c.id === 'power')!.value;
    say(
      `   the owner switches the plug on from the cloud -> ${on.body.command.status}; ` +
        `the plug reports power = ${String(power)}`,
    );
  } finally {
    await agent.close();
    await cloud.close();
  }
}

/** Step 5: signed updates: 1.1.0 installs itself; an older signed image and a tampered one are refused. */
async function demoSignedUpdates(work: string, factoryDir: string, units: DemoUnits): Promise<void> {
  const { demoUpdates } = await import('../release/index.ts');
  const { superviseAgent } = await import('../device/index.ts');
  say('\n5. Signed automatic updates: TUF metadata, anti-rollback, A/B slots, power-loss safe');
  await demoUpdates({ work: join(work, 'updates'), factoryDir, unitDir: units.plug!.dir, say, superviseAgent });
}

/** Step 4: a hub pairs the plug by push button and the lock by setup code, and controls both. */
async function demoLocalHub(work: string, units: DemoUnits): Promise<void> {
  const { startDeviceAgent } = await import('../device/index.ts');
  const { demoHub } = await import('../hub/index.ts');
  say('\n4. Local automation hub: pairing windows, push button and SPAKE2+ setup code, then pinned mutual TLS');
  await demoHub({ work, plug: units.plug!, lock: units.lock!, say, startDeviceAgent });
}

/** Step 3: a plug's HTTPS admin page, its sticker password, a lockout, and the journal. */
async function demoListeningService(work: string, units: DemoUnits): Promise<void> {
  const { startDeviceAgent } = await import('../device/index.ts');
  const { DemoBrowser } = await import('./demo-client.ts');
  const plug = units.plug!;
  say("3. Listening service: the plug's HTTPS admin page on its own certificate");
  const agent = await startDeviceAgent({
    bundleDir: plug.dir,
    stateDir: join(work, 'state', plug.serial),
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'production',
  });
  try {
    say(`   ${plug.serial} listening at ${agent.web.url} (TLS 1.2/1.3, ECDHE-AEAD only)`);
    await agent.updater.reportHealthy(); // as agent-main does once up: records the running image's security version
    const owner = await DemoBrowser.open(agent.web.url, plug.dir, '127.0.0.1');
    const anonymous = await owner.request('GET', '/api/status');
    say(`   GET /api/status without logging in -> ${anonymous.status}`);
    const attacker = await DemoBrowser.open(agent.web.url, plug.dir, '127.0.0.3');
    const tries: number[] = [];
    for (const guess of ['admin', 'password', '12345678', 'letmein', 'qwerty123', 'iloveyou']) {
      tries.push((await attacker.login('admin', guess)).status);
    }
    say(`   an attacker at 127.0.0.3 guesses 6 passwords -> ${tries.join(', ')} (429 = backing off, no hash computed)`);
    const login = await owner.login('admin', plug.adminPassword!);
    if (login.status !== 303) throw new DemoError(`the sticker password did not log in (${login.status})`);
    say(
      `   the owner logs in with the sticker password from 127.0.0.1 -> ${login.status} ` +
        '(session cookie __Host-, HttpOnly, Secure, SameSite=Strict)',
    );
    const on = await owner.request('POST', '/api/capabilities/power/on', { csrf: true });
    say(`   switch the plug on -> ${on.status} ${on.body}`);
    const forged = await owner.request('POST', '/api/capabilities/power/off', { origin: 'https://evil.example' });
    say(`   the same request from another origin without the CSRF token -> ${forged.status}`);
    type Entry = { at: string; event: string; source: string; identity?: string; result: string };
    const journal = JSON.parse((await owner.request('GET', '/api/journal?limit=12')).body) as { entries: Entry[] };
    say('   connection journal (newest first; passwords never recorded):');
    for (const e of journal.entries) {
      const who = (e.identity ?? '').padEnd(10);
      say(`     ${e.at.slice(11, 19)}  ${e.event.padEnd(12)} ${e.source.padEnd(18)} ${who} ${e.result}`);
    }
  } finally {
    await agent.close();
  }
}
