/**
 * `bulwark demo --keep-running`: once the story is told, the audited home stays up for a person to
 * try in a browser. An owner account on the demo's cloud claims the plug, the addresses and the
 * passwords to try are printed, and everything waits for Ctrl-C (SIGINT) or SIGTERM; the demo
 * then closes its servers as it does without the flag.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditedHome, DemoUnit } from './demo-audit.ts';
import { DemoError } from './errors.ts';

/** What the open house needs from the demo. */
export interface KeepRunningOptions {
  readonly home: AuditedHome;
  readonly units: Readonly<Record<string, DemoUnit>>;
  readonly say: (line: string) => void;
}

/** The owner account the demo makes on its cloud for the owner app. */
interface DemoOwner {
  readonly email: string;
  readonly password: string;
}

/** The address of the demo's owner: example.com is reserved, so no message can leave for a real person. */
const OWNER_EMAIL = 'owner@example.com';

/** Prints what to open, then resolves on SIGINT or SIGTERM (the caller closes the servers). */
export async function keepHomeRunning(o: KeepRunningOptions): Promise<void> {
  const owner = await claimPlugForOwner(o.home, o.units.plug!);
  const { HUB_INITIAL_PASSWORD_FILE } = await import('../hub/index.ts');
  const hubPassword = (await readFile(join(o.home.hubState, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  const stopped = stopSignal();
  o.say('\nThe system stays up until you press Ctrl-C. Try it in a browser; each server shows its own');
  o.say('self-signed certificate (made by this demo), so the browser asks you to accept it once:');
  const rows = [...deviceRows(o), ...serviceRows(o.home, hubPassword, owner)];
  const width = Math.max(...rows.map((r) => r[0]!.length));
  for (const [what, url, how] of rows) o.say(`   ${what!.padEnd(width)}  ${url}  ${how}`);
  o.say('These are throwaway units made by this demo: their passwords are printed here and nowhere else.');
  o.say('Press Ctrl-C to stop everything.');
  const signal = await stopped;
  o.say(`\n${signal}: closing the demo's devices, hub, cloud and release server...`);
}

/** The audited devices: each one's page, and the password on its sticker or how its owner sets the first one. */
function deviceRows(o: KeepRunningOptions): string[][] {
  return Object.entries(o.home.agents).map(([model, agent]) => {
    const unit = o.units[model]!;
    const how = unit.adminPassword
      ? `user admin, password ${unit.adminPassword} (from its sticker)`
      : `first use: the setup code ${unit.setupCode} from its label, then choose a password`;
    return [`the ${model}'s page`, `${agent.web.url}/`, how];
  });
}

/** The hub's page (when it has one) and the owner app on the cloud. */
function serviceRows(home: AuditedHome, hubPassword: string, owner: DemoOwner): string[][] {
  const hub = home.hubUrl
    ? [["the hub's page", `${home.hubUrl}/`, `password ${hubPassword} (its first password)`]]
    : [];
  const app = `${owner.email}, password ${owner.password} (the plug is claimed: switch it from there)`;
  return [...hub, ['the owner app', `${home.cloudApi}/login`, app]];
}

/**
 * Signs an owner up on the demo's cloud (the confirmation link read from its maildir), then claims the plug with
 * the code from its sticker inside the claim window its button opens, as step 6 does.
 */
async function claimPlugForOwner(home: AuditedHome, plug: DemoUnit): Promise<DemoOwner> {
  const { OwnerApiClient, findMailedLink } = await import('../cloud/index.ts');
  const { pressButton } = await import('../device/index.ts');
  const password = randomBytes(12).toString('base64url');
  const owner = new OwnerApiClient(home.cloudApi, await readFile(home.cloudApiCa, 'utf8'));
  await owner.register(OWNER_EMAIL, password);
  let link: string | undefined;
  for (let i = 0; i < 50 && !link; i++) {
    await new Promise((r) => setTimeout(r, 100));
    link = await findMailedLink(home.cloudMail, OWNER_EMAIL, '/verify');
  }
  if (!link) throw new DemoError("no confirmation message reached the cloud's maildir");
  await owner.confirmAddress(new URL(link).searchParams.get('token') ?? '');
  const login = await owner.login(OWNER_EMAIL, password);
  if (login.status !== 200) throw new DemoError(`the demo's owner could not log in (${login.status})`);
  await pressButton(home.stateOf('plug'), 'press');
  let claimed = await owner.claim(plug.serial, plug.claimCode);
  // The button's window opens as the device hears it; the cloud learns of it a moment later.
  for (let i = 0; i < 20 && claimed.error?.code === 'CLAIM_WINDOW_CLOSED'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    claimed = await owner.claim(plug.serial, plug.claimCode);
  }
  if (claimed.status !== 201)
    throw new DemoError(`the plug's claim failed (${claimed.status} ${claimed.error?.code ?? ''})`);
  return { email: OWNER_EMAIL, password };
}

/**
 * Resolves with the first SIGINT or SIGTERM. Its handlers go once it has fired, so a second Ctrl-C during a slow
 * close ends the process at once, as a person pressing it again expects.
 */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
