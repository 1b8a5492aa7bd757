/**
 * `bulwark hub ...`: run the local automation hub, and talk to a running one through its 0600
 * control socket (pair, devices, call, unpair, grant, revoke, automations, unlock).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { portArgument } from './arguments.ts';
import { addLogFormatOption, chooseLogFormat, openLogOutput, type LogFormat } from './log-output.ts';

/** A command-line value as a channel value: true/false, null, integers and decimals as numbers, anything else text. */
export function parseCallValue(text: string | undefined): boolean | number | string | null | undefined {
  if (text === undefined) return undefined;
  if (text === 'true' || text === 'on') return true;
  if (text === 'false' || text === 'off') return false;
  if (text === 'null') return null;
  if (/^-?\d{1,15}(\.\d{1,6})?$/.test(text)) return Number(text);
  return text;
}

const port = (value: string, name: string, min = 0): number => portArgument(value, name, 'HUB_CONFIG_INVALID', min);

function print(value: unknown, json: boolean | undefined): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : String(value)) + '\n');
}

interface DeviceRow {
  serial: string;
  model: string;
  address: string;
  mode: string;
  connected: boolean;
  access: string[];
  notGranted: string[];
  state: Record<string, unknown>;
  keptGrants?: string[];
  droppedGrants?: string[];
}

interface AutomationRow {
  id: number;
  whenSerial: string;
  whenCapability: string;
  op: string;
  threshold: number;
  thenSerial: string;
  thenCapability: string;
  thenAction: string;
}

function deviceLine(d: DeviceRow): string {
  const state = Object.entries(d.state)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const link = d.connected ? 'connected' : 'offline  ';
  return (
    `${d.serial}  ${d.model.padEnd(6)} ${d.address.padEnd(21)} ${link}  by ${d.mode.padEnd(11)} ` +
    `access: ${d.access.join(',') || '-'}` +
    `${d.notGranted.length ? ` (not granted: ${d.notGranted.join(',')})` : ''}${state ? `  ${state}` : ''}`
  );
}

/** What a second pairing did with the device's grants (nothing for a first pairing). */
function grantsLine(d: DeviceRow): string {
  if (d.keptGrants?.length) return `\ngrants kept: ${d.keptGrants.join(',')}`;
  if (d.droppedGrants?.length)
    return `\ngrants dropped: ${d.droppedGrants.join(',')} (grant them again, or pair with --keep-grants)`;
  return '';
}

function automationLine(r: AutomationRow): string {
  return (
    `${r.id}: when ${r.whenSerial} ${r.whenCapability} goes ${r.op} ${r.threshold}: ` +
    `${r.thenSerial} ${r.thenCapability} ${r.thenAction}`
  );
}

/** The options every control command has. */
interface ClientOptions {
  hub: string;
  json?: boolean;
}

/** A hub subcommand that talks to a running hub through its control socket. */
type ControlCommand = (name: string, description: string) => Command;

/** Registers the hub commands on `program`. */
export function registerHubCommands(program: Command): void {
  const hub = program.command('hub').description('the local automation hub: pair with devices, control them, automate');
  registerRun(hub);
  const client: ControlCommand = (name, description) =>
    hub
      .command(name)
      .description(description)
      .requiredOption('--hub <dir>', 'the state dir of the running hub')
      .option('--json', 'print JSON');
  registerPairing(client);
  registerControl(client);
  registerAutomation(client);
}

/** `hub run`: the hub service until a signal. */
function registerRun(hub: Command): void {
  addLogFormatOption(hub.command('run'))
    .description('run the hub (its key is made on first run in --state, mode 0600)')
    .requiredOption('--state <dir>', "the hub's state: key, SQLite store, control socket")
    .option('--port <port>', "the devices' hub port, dialled when a device address has none", '5541')
    .option('--web-port <port>', 'HTTPS admin page port (0 = any free port)', '8444')
    .option('--host <address>', 'address of the admin page', '127.0.0.1')
    .action(async (o: { state: string; port: string; webPort: string; host: string; logFormat?: LogFormat }) => {
      const { startHubService } = await import('../hub/index.ts');
      const out = await openLogOutput(chooseLogFormat(o.logFormat, process.stdout.isTTY === true));
      const service = await startHubService({
        stateDir: resolve(o.state),
        config: { devicePort: port(o.port, 'port', 1) },
        web: { host: o.host, port: port(o.webPort, 'webPort') },
        log: (msg) => out.log(msg),
      });
      const web = service.web?.url ?? '(no admin page)';
      const control = service.controlPath;
      // The key is the hub's public key's fingerprint, which devices pin: nothing secret.
      const msg = `hub ready: ${web} control ${control} key ${service.hub.pin}`;
      // Listening for the signals before the ready line: a caller may stop the hub as soon as it reads it.
      const stopped = new Promise<void>((done) => {
        const stop = (): void => {
          service.close().then(done, done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      out.event('ready', msg, { url: service.web?.url ?? null, control, fingerprint: service.hub.pin });
      await stopped;
    });
}

/** `hub pair` and `hub devices`. */
function registerPairing(client: ControlCommand): void {
  client('pair', 'pair with a device: by its setup code (--code), else by push button; open its pairing window first')
    .requiredOption('--device <host:port>', "the device's hub address")
    .option('--code <setup code>', "the setup code from the device's label")
    .option('--keep-grants', "a device paired again with the same key keeps its grants (a lock's bolt)")
    .action(async (o: { hub: string; device: string; code?: string; keepGrants?: boolean; json?: boolean }) => {
      const { callHubControl } = await import('../hub/index.ts');
      const args = {
        address: o.device,
        ...(o.code !== undefined ? { setupCode: o.code } : {}),
        ...(o.keepGrants ? { keepGrants: true } : {}),
      };
      const d = (await callHubControl(resolve(o.hub), 'pair', args)) as DeviceRow;
      print(o.json ? d : `paired ${d.serial} (${d.model}) by ${d.mode}\n${deviceLine(d)}${grantsLine(d)}`, o.json);
    });

  client('devices', 'list the paired devices with their state and access list').action(async (o: ClientOptions) => {
    const { callHubControl } = await import('../hub/index.ts');
    const list = (await callHubControl(resolve(o.hub), 'devices')) as DeviceRow[];
    print(o.json ? list : list.length ? list.map(deviceLine).join('\n') : 'no paired devices', o.json);
  });
}

/** `hub call`, `hub unpair`, `hub grant` and `hub revoke`. */
function registerControl(client: ControlCommand): void {
  client('call', "run an action on a device's capability, e.g. `hub call PLG-... power on`")
    .argument('<serial>')
    .argument('<capability>')
    .argument('<action>')
    .argument('[value]')
    .action(async (serial: string, capability: string, action: string, value: string | undefined, o: ClientOptions) => {
      const { callHubControl } = await import('../hub/index.ts');
      const v = parseCallValue(value);
      const args = { serial, capability, action, ...(v !== undefined ? { value: v } : {}) };
      const r = (await callHubControl(resolve(o.hub), 'call', args)) as { value: unknown };
      print(o.json ? r : `${serial} ${capability} ${action}: ${String(r.value)}`, o.json);
    });

  client('unpair', 'unpair a device: it forgets this hub and the hub forgets it')
    .argument('<serial>')
    .action(async (serial: string, o: ClientOptions) => {
      const { callHubControl } = await import('../hub/index.ts');
      const r = (await callHubControl(resolve(o.hub), 'unpair', { serial })) as { toldDevice: boolean };
      const offline = " here; the device was offline and still holds this hub's key (unpair it on the device too)";
      print(o.json ? r : `unpaired ${serial}${r.toldDevice ? '' : offline}`, o.json);
    });

  const verbs = {
    grant: "add a capability to a device's access list (sensitive ones need this)",
    revoke: "remove a capability from a device's access list",
  } as const;
  for (const verb of ['grant', 'revoke'] as const) {
    client(verb, verbs[verb])
      .argument('<serial>')
      .argument('<capability>')
      .action(async (serial: string, capability: string, o: ClientOptions) => {
        const { callHubControl } = await import('../hub/index.ts');
        const d = (await callHubControl(resolve(o.hub), verb, { serial, capability })) as DeviceRow;
        print(o.json ? d : deviceLine(d), o.json);
      });
  }
}

/** `hub automate`, `hub unlock` and `hub automations`. */
function registerAutomation(client: ControlCommand): void {
  client('automate', 'add a rule: when a reading crosses a threshold, run an action')
    .requiredOption('--when <serial:capability>', 'the reading, e.g. SNS-...:temperature')
    .option('--above <number>', 'fire when the reading rises above this')
    .option('--below <number>', 'fire when the reading falls below this')
    .requiredOption('--then <serial:capability:action>', 'the action, e.g. PLG-...:power:on')
    .action(async (o: { hub: string; when: string; above?: string; below?: string; then: string; json?: boolean }) => {
      const { callHubControl } = await import('../hub/index.ts');
      const [whenSerial, whenCapability] = o.when.split(':');
      const [thenSerial, thenCapability, thenAction] = o.then.split(':');
      if ((o.above === undefined) === (o.below === undefined)) {
        throw new ConfigError('HUB_CONFIG_INVALID', 'above/below', 'give exactly one of --above and --below');
      }
      const threshold = Number(o.above ?? o.below);
      const op = o.above !== undefined ? 'above' : 'below';
      const rule = await callHubControl(resolve(o.hub), 'automation-add', {
        whenSerial,
        whenCapability,
        op,
        threshold,
        thenSerial,
        thenCapability,
        thenAction,
      });
      print(o.json ? rule : `automation ${(rule as { id: number }).id} added`, o.json);
    });

  client('unlock', 'let a new browser log in to the admin page for 5 minutes despite the account-wide lockout').action(
    async (o: ClientOptions) => {
      const { callHubControl } = await import('../hub/index.ts');
      const r = (await callHubControl(resolve(o.hub), 'unlock')) as { unlockedUntil: string };
      const text =
        `a new browser may log in to the hub's admin page until ${r.unlockedUntil} (or until one has); ` +
        'browsers that logged in before were never locked out, and an address that keeps guessing stays slowed';
      print(o.json ? r : text, o.json);
    },
  );

  client('automations', 'list the automation rules').action(async (o: ClientOptions) => {
    const { callHubControl } = await import('../hub/index.ts');
    const rules = (await callHubControl(resolve(o.hub), 'automations')) as AutomationRow[];
    print(o.json ? rules : rules.map(automationLine).join('\n') || 'no automations', o.json);
  });
}
