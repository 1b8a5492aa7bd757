/**
 * The hub's part of `bulwark demo`: a hub pairs a plug by push button and a lock by setup code,
 * shows what a wrong setup code (and a typo, and push button on a lock) gets, switches the plug,
 * and locks the lock once its bolt is granted. The device agents are started through the
 * function passed in, so this folder does not import src/device.
 *
 * @example
 * const { startDeviceAgent } = await import('../device/index.ts');
 * await demoHub({ work, plug, lock, say, startDeviceAgent });
 */
import { join } from 'node:path';
import { BulwarkError } from '../errors/index.ts';
import { startHubService } from './service.ts';

/** The part of a running device agent the demo uses. */
export interface DemoDeviceAgent {
  readonly hub: {
    readonly port: number;
    /** Opens the pairing window (button press or the owner's page); returns what to tell the person. */
    openPairingWindow(by: 'button' | 'owner'): string;
    /** The pairing window's state; the demo reads the failed attempts in this window. */
    pairingStatus(): { readonly failures: number };
  };
  readonly journal: {
    /** The agent's latest journal entries, at most `limit`. */
    list(o: {
      limit: number;
    }): Promise<ReadonlyArray<{ at: string; surface: string; event: string; result: string; detail?: string }>>;
  };
  /** Stops the agent. */
  close(): Promise<void>;
}

/** How the demo starts an agent: src/device's `startDeviceAgent`. */
export type DemoStartAgent = (config: {
  bundleDir: string;
  stateDir: string;
  host: string;
  webPort: number;
  hubPort: number;
  mode: 'production';
}) => Promise<DemoDeviceAgent>;

/** Options of {@link demoHub}. */
export interface DemoHubOptions {
  /** The demo's work folder; the hub's and the devices' state go under `<work>/hub-demo`. */
  readonly work: string;
  /** A provisioned plug and lock (their bundle folders and the lock's setup code from its label). */
  readonly plug: { readonly serial: string; readonly dir: string };
  readonly lock: { readonly serial: string; readonly dir: string; readonly setupCode: string };
  /** Prints one line of the demo's narration. */
  readonly say: (line: string) => void;
  readonly startDeviceAgent: DemoStartAgent;
}

function codeOf(err: unknown): string {
  if (err instanceof BulwarkError) return (err as BulwarkError).code;
  throw err;
}

/** Runs the hub steps; throws when a step does not go as it should. */
export async function demoHub(o: DemoHubOptions): Promise<void> {
  const { say } = o;
  const base = join(o.work, 'hub-demo');
  const start = (unit: { serial: string; dir: string }): Promise<DemoDeviceAgent> =>
    o.startDeviceAgent({
      bundleDir: unit.dir,
      stateDir: join(base, unit.serial),
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'production',
    });
  const plug = await start(o.plug);
  const lock = await start(o.lock);
  const service = await startHubService({ stateDir: join(base, 'hub'), web: { port: 0 } });
  const hub = service.hub;
  try {
    say(`   hub key ${hub.pin.slice(0, 23)}... (made at first run, 0600); admin page ${service.web?.url ?? '-'}`);
    say(`   the plug's button: ${plug.hub.openPairingWindow('button')}`);
    const p = await hub.pair({ address: `127.0.0.1:${plug.hub.port}` });
    say(`   paired ${p.serial} by push button; both sides now pin each other's key (device ${p.pin.slice(0, 23)}...)`);
    say(`   the lock's button: ${lock.hub.openPairingWindow('button')}`);
    let refused = '';
    try {
      await hub.pair({ address: `127.0.0.1:${lock.hub.port}` });
    } catch (err) {
      refused = codeOf(err);
    }
    if (refused !== 'PAIRING_PUSH_BUTTON_REFUSED') throw new Error(`push button on a lock gave '${refused}'`);
    say(`   push button on the lock -> ${refused}`);
    const { generateSetupCode } = await import('../identity/index.ts');
    let wrong = generateSetupCode();
    while (wrong === o.lock.setupCode) wrong = generateSetupCode();
    let failed = '';
    try {
      await hub.pair({ address: `127.0.0.1:${lock.hub.port}`, setupCode: wrong });
    } catch (err) {
      failed = codeOf(err);
    }
    if (failed !== 'PAIRING_CONFIRMATION_FAILED') throw new Error(`a wrong setup code gave '${failed}'`);
    say(
      `   a wrong setup code (${wrong}) -> ${failed}; the lock counts it (${lock.hub.pairingStatus().failures} of` +
        ` 20 attempts used)`,
    );
    let typo = '';
    const mistyped = o.lock.setupCode.replace(/\d(?=\D*$)/, (d) => String((Number(d) + 1) % 10));
    try {
      await hub.pair({ address: `127.0.0.1:${lock.hub.port}`, setupCode: mistyped });
    } catch (err) {
      typo = codeOf(err);
    }
    say(`   a typo in the code -> ${typo} (the check digit catches it before the lock spends an attempt)`);
    const l = await hub.pair({ address: `127.0.0.1:${lock.hub.port}`, setupCode: o.lock.setupCode });
    say(`   paired ${l.serial} by setup code (SPAKE2+ bound to both TLS keys; the lock holds only a verifier)`);
    say(`   switch the plug on -> ${String(await hub.call(p.serial, 'power', 'on'))}`);
    let denied = '';
    try {
      await hub.call(l.serial, 'bolt', 'lock');
    } catch (err) {
      denied = codeOf(err);
    }
    say(`   lock the lock before granting its bolt -> ${denied}`);
    hub.grant(l.serial, 'bolt');
    say(`   grant bolt, then lock the lock -> ${String(await hub.call(l.serial, 'bolt', 'lock'))}`);
    say("   the lock's connection journal (newest first):");
    for (const e of (await lock.journal.list({ limit: 12 })).filter(
      (r) => r.surface === 'pairing' || r.surface === 'hub',
    )) {
      say(
        `     ${e.at.slice(11, 19)}  ${e.surface.padEnd(8)} ${e.event.padEnd(16)} ${e.result.padEnd(8)}` +
          ` ${e.detail ?? ''}`,
      );
    }
  } finally {
    await service.close();
    await plug.close();
    await lock.close();
  }
}
