/**
 * The owner's data: export, erasure and factory reset. A factory reset is destructive, so the
 * auditor never presses the audited device's button: it copies the device's state folder
 * (bounded; the installed firmware slots left out), starts the firmware on the copy on loopback
 * with the unit's bundle (its cloud link pointed at a closed loopback port, so nothing leaves the
 * machine), uses the owner's export there when the label's password opens it, holds the copy's
 * button, and reads what is left. The copy is deleted afterwards. The cloud's side (an account
 * deleted, a claim released by the device) runs on the cloud store's code over an in-memory
 * database with a unit the auditor makes up. Black-box, the export route must exist and be the
 * owner's alone.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importMadeUpUnit } from './made-up-unit.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readJsonBounded, walk } from './files.ts';
import { readJournalFile } from './stored-journal.ts';
import { httpsExchange, parseHttpsTarget, type HttpAnswer, type HttpsTarget } from './net.ts';
import { findLoginForm } from './html-forms.ts';
import { auditedModel, isBulwark, NOT_BULWARK_DEVICE } from './device-info.ts';
import type { Evidence } from './types.ts';
import { superviseCopy, type CopyBoot, type SupervisedCopy } from './unit-copy.ts';
import type * as DeviceIndex from '../device/index.ts';

/** What the run on the copy showed. */
interface CloneRun {
  readonly notes: string[];
  /** Why the copy could not be run, when it could not. */
  readonly failed?: string;
  readonly export?:
    | {
        readonly when: 'before-reset' | 'after-reset';
        readonly status: number;
        readonly keys: readonly string[];
        readonly secrets: readonly string[];
        readonly journal: number;
        readonly format?: unknown;
      }
    | { readonly skipped: string };
  readonly reset?: {
    readonly answer: string;
    readonly leftover: readonly string[];
    readonly ownerFilesLeft: readonly string[];
    readonly oldJournal: number;
    readonly journalAfter: number;
    readonly outbox?: { readonly release: boolean; readonly other: number };
    readonly counterKept?: boolean;
    readonly credentials: string;
  };
}

const runs = new WeakMap<AuditContext, Promise<CloneRun | undefined>>();

/** The copy of the device, run once per audit for both checks. */
function cloneRun(ctx: AuditContext): Promise<CloneRun | undefined> {
  let p = runs.get(ctx);
  if (p === undefined) {
    // Bounded as a whole: a copy that does not finish in time is reported, and cleans up when it ends.
    const ms = ctx.inputs.limits.cloneDeadlineMs + 5_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<CloneRun>((resolve) => {
      timer = setTimeout(
        () => resolve({ notes: [], failed: `the copy of the device did not finish within ${ms / 1000} s` }),
        ms,
      );
      timer.unref();
    });
    p = Promise.race([runClone(ctx).finally(() => clearTimeout(timer)), late]);
    runs.set(ctx, p);
  }
  return p;
}

/** A small HTTPS client with cookies for the copy (loopback, the auditor's own process). */
class CopyClient {
  readonly target: HttpsTarget;
  readonly jar = new Map<string, string>();
  readonly #bounds: { connectTimeoutMs: number; requestTimeoutMs: number; maxResponseBytes: number };
  constructor(url: string, bounds: { connectTimeoutMs: number; requestTimeoutMs: number }) {
    this.target = parseHttpsTarget(url)!;
    this.#bounds = { ...bounds, maxResponseBytes: 4 * 1_048_576 };
  }
  async send(
    method: string,
    path: string,
    o: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<HttpAnswer> {
    const body = o.form ? new URLSearchParams(o.form).toString() : undefined;
    const a = await httpsExchange(
      this.target,
      {
        method,
        path,
        headers: {
          ...(o.form ? { 'content-type': 'application/x-www-form-urlencoded', origin: this.target.origin } : {}),
          ...(this.jar.size ? { cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
          ...o.headers,
        },
        ...(body !== undefined ? { body } : {}),
      },
      this.#bounds,
    );
    const raw = a.headers['set-cookie'];
    for (const line of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      const pair = line.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(line)) this.jar.delete(pair.slice(0, eq).trim());
      else this.jar.set(pair.slice(0, eq).trim(), value);
    }
    return a;
  }
  /** Logs in through the login form; the answer's status (303 on success). */
  async login(password: string): Promise<number> {
    const page = await this.send('GET', '/login');
    const form = findLoginForm(page.body);
    if (!form) return page.status;
    const fields: Record<string, string> = {};
    for (const i of form.inputs) if (i.name) fields[i.name] = i.value ?? '';
    const user = form.inputs.find((i) => i.type !== 'password' && i.type !== 'hidden' && i.name)?.name ?? 'username';
    const pass = form.inputs.find((i) => i.type === 'password')?.name ?? 'password';
    fields[user] = 'admin';
    fields[pass] = password;
    return (await this.send('POST', form.action || '/login', { form: fields })).status;
  }
}

type DeviceModule = typeof DeviceIndex;
type ModelSpec = Awaited<ReturnType<typeof auditedModel>>['model'];
type CloneExport = CloneRun['export'];
type CloneLimits = AuditContext['inputs']['limits'];

async function runClone(ctx: AuditContext): Promise<CloneRun | undefined> {
  const { bundleDir, stateDir, limits } = ctx.inputs;
  if (bundleDir === undefined || stateDir === undefined) return undefined;
  const notes: string[] = [];
  const work = await mkdtemp(join(tmpdir(), 'bulwark-audit-copy-'));
  const copy = join(work, 'state');
  let unit: SupervisedCopy | undefined;
  const deadline = Date.now() + limits.cloneDeadlineMs;
  const timeLeft = (): number => deadline - Date.now();
  try {
    // 1. The copy: every file, the installed slots too, but sockets.
    const copied = await copyStateFolder(stateDir, copy, limits);
    if (copied === undefined)
      return { notes, failed: `the state folder has more than ${limits.maxStateFiles} entries` };
    notes.push(`copied ${copied} files of the state folder (installed slots included)`);
    // 2. The unit's own supervisor on the copy: it verifies and boots the image of the unit's active slot.
    const { model } = await auditedModel(ctx);
    const device = await import('../device/index.ts');
    const cloud = ctx.inputs.profile.networkModels.includes('cloud');
    unit = await superviseCopy({ bundleDir, stateDir: copy, cloud, deadlineMs: Math.max(1_000, timeLeft()) });
    notes.push(`the unit's supervisor booted ${bootText(unit.boots[0]!)} on the copy`);
    const owner = await ownerOfCopy(unit.url, bundleDir, limits);
    // 3. The owner's export, before the reset when the label's password still opens the device.
    let exported = await exportBeforeReset(owner, model, timeLeft() > 0);
    // 4. Hold the copy's button: the factory reset.
    if (timeLeft() <= 0) return { notes, failed: 'the copy took longer than the audit allows', export: exported };
    const started = Date.now();
    // The supervisor answers once the reset has erased and the slot has booted again.
    const answer = await device.pressButton(copy, 'hold', Math.max(1_000, timeLeft()));
    const reboot = unit.boots[1];
    notes.push(
      reboot ? `after the reset it booted ${bootText(reboot)}` : 'the unit did not boot again after the reset',
    );
    const left = await stateAfterReset(device, { copy, stateDir, started, cloud, limits });
    // 5. The label's credentials again.
    const again = await credentialsAfterReset(owner, model, left.files);
    if (again.loggedIn && 'skipped' in (exported ?? {})) exported = await owner.readExport('after-reset');
    const { files: _files, ...reset } = left;
    return {
      notes,
      export: exported,
      reset: { answer: answer.slice(0, 200), ...reset, credentials: again.credentials },
    };
  } catch (err) {
    return {
      notes,
      failed: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message?.slice(0, 160) ?? String(err)}`,
    };
  } finally {
    await unit?.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/** A boot in the evidence's words. */
function bootText(boot: CopyBoot): string {
  const image = boot.slot === 'factory' ? 'the factory image' : `the image in slot ${boot.slot}`;
  return `${image} (firmware ${boot.firmware})`;
}

/** Copies the state folder, installed slots included, bounded; the files copied, or undefined when it has too many. */
async function copyStateFolder(stateDir: string, copy: string, limits: CloneLimits): Promise<number | undefined> {
  const { entries, truncated } = await walk(stateDir, limits.maxStateFiles, 8);
  if (truncated) return undefined;
  await mkdir(copy, { mode: 0o700 });
  let copied = 0;
  for (const e of entries) {
    if (e.name === '.') continue;
    const to = join(copy, e.name);
    if (e.kind === 'dir') await mkdir(to, { recursive: true, mode: 0o700 });
    else if (e.kind === 'file' && e.size <= limits.maxInputFileBytes) {
      await copyFile(e.path, to);
      copied++;
    }
  }
  return copied;
}

/** The auditor as the owner of the copy: the label's password and secrets, a client, and the export it reads. */
interface CopyOwner {
  readonly url: string;
  readonly limits: CloneLimits;
  readonly client: CopyClient;
  readonly password: string | undefined;
  readonly readExport: (when: 'before-reset' | 'after-reset') => Promise<CloneExport>;
}

async function ownerOfCopy(url: string, bundleDir: string, limits: CloneLimits): Promise<CopyOwner> {
  const client = new CopyClient(url, limits);
  type Label = { adminPassword?: unknown; setupCode?: unknown; claimCode?: unknown };
  const label = (await readJsonBounded(join(bundleDir, 'label.json'), 65_536)).value as Label | undefined;
  const password = typeof label?.adminPassword === 'string' ? label.adminPassword : undefined;
  const secrets = [label?.adminPassword, label?.setupCode, label?.claimCode].filter(
    (s): s is string => typeof s === 'string',
  );
  const readExport = async (when: 'before-reset' | 'after-reset'): Promise<CloneExport> => {
    const a = await client.send('GET', '/api/export', { headers: { accept: 'application/json' } });
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(a.body) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const found = [...secrets, '$argon2', 'PRIVATE KEY']
      .filter((s) => a.body.includes(s))
      .map((s) => (secrets.includes(s) ? 'a label secret' : s));
    const journal = Array.isArray(json?.journal) ? json.journal.length : 0;
    return {
      when,
      status: a.status,
      keys: json ? Object.keys(json) : [],
      secrets: found,
      journal,
      format: json?.format,
    };
  };
  return { url, limits, client, password, readExport };
}

async function exportBeforeReset(owner: CopyOwner, model: ModelSpec, inTime: boolean): Promise<CloneExport> {
  const { password } = owner;
  if (password !== undefined && model?.initialPasswordMode === 'sticker' && inTime) {
    const status = await owner.client.login(password);
    if (status === 303) return owner.readExport('before-reset');
    return { skipped: `the label's password did not open the copy (${status}): the owner has changed it` };
  }
  if (model?.initialPasswordMode === 'setup')
    return { skipped: 'this model has no label password (its owner sets one at setup)' };
  return {
    skipped:
      password === undefined
        ? 'label.json is not in the bundle folder (a flashed device has none): the auditor has no owner password'
        : 'not tried',
  };
}

/** What the copy's state folder holds after the reset, judged against the device's own list of the owner's data. */
async function stateAfterReset(
  device: DeviceModule,
  o: { copy: string; stateDir: string; started: number; cloud: boolean; limits: CloneLimits },
): Promise<Omit<NonNullable<CloneRun['reset']>, 'answer' | 'credentials'> & { files: string[] }> {
  const { copy, limits } = o;
  const after = await walk(copy, limits.maxStateFiles, 8);
  const files = after.entries.filter((e) => e.kind !== 'dir').map((e) => e.name);
  const leftover = files.filter((f) => !device.KEPT_AFTER_FACTORY_RESET.test(f));
  const ownerFilesLeft = device.OWNER_DATA_FILES.filter(({ file }) => files.includes(file)).map(
    ({ file, what }) => `${file} (${what})`,
  );
  const entries = (await readJournalFile(copy, limits.maxInputFileBytes)) ?? [];
  const oldJournal = entries.filter((e) => Date.parse(e.at) < o.started - 1_000).length;
  const outbox = o.cloud ? await queuedForCloud(copy, limits.maxInputFileBytes) : undefined;
  const { firmwarePaths } = await import('../update/index.ts');
  const counter = (dir: string): Promise<string | undefined> =>
    readFile(firmwarePaths(dir).security, 'utf8').catch(() => undefined);
  const counterBefore = await counter(o.stateDir);
  const counterAfter = await counter(copy);
  return {
    files,
    leftover,
    ownerFilesLeft,
    oldJournal,
    journalAfter: entries.length,
    ...(outbox ? { outbox } : {}),
    ...(counterBefore !== undefined ? { counterKept: counterAfter === counterBefore } : {}),
  };
}

/** The cloud outbox of a state folder: whether a claim release is queued, and how many other messages. */
async function queuedForCloud(stateDir: string, maxBytes: number): Promise<{ release: boolean; other: number }> {
  const { OUTBOX_FILE } = await import('../cloudlink/index.ts');
  type Queued = { kind?: string; body?: { event?: string } };
  const o = (await readJsonBounded(join(stateDir, OUTBOX_FILE), maxBytes)).value as { entries?: Queued[] } | undefined;
  const list = o?.entries ?? [];
  const isRelease = (x: Queued): boolean => x.kind === 'claim' && x.body?.event === 'release';
  return { release: list.some(isRelease), other: list.filter((x) => !isRelease(x)).length };
}

/** Whether the label's credentials open the copy again after the reset, as the owner would try them. */
async function credentialsAfterReset(
  owner: CopyOwner,
  model: ModelSpec,
  files: readonly string[],
): Promise<{ credentials: string; loggedIn: boolean }> {
  const fresh = new CopyClient(owner.url, owner.limits);
  if (model?.initialPasswordMode === 'setup') {
    const home = await fresh.send('GET', '/');
    const to = String(home.headers.location ?? '');
    const setup = home.status === 303 && to.startsWith('/setup');
    return {
      credentials: setup
        ? "the device asks for setup again (its label's setup code applies)"
        : `GET / answered ${home.status}${to ? ` to ${to}` : ''}, not the setup page`,
      loggedIn: false,
    };
  }
  if (owner.password !== undefined) {
    const status = await fresh.login(owner.password);
    if (status === 303) {
      owner.client.jar.clear();
      for (const [k, v] of fresh.jar) owner.client.jar.set(k, v);
    }
    return {
      credentials:
        status === 303 ? "the label's password logs in again" : `the label's password is refused (${status})`,
      loggedIn: status === 303,
    };
  }
  const stored = files.includes('web/owner.json');
  return {
    credentials: stored
      ? 'an owner password is still stored'
      : "no owner password is stored: the bundle's label password hash applies again",
    loggedIn: false,
  };
}

async function ownerDataKinds(): Promise<string[]> {
  const { OWNER_DATA_FILES } = await import('../device/index.ts');
  return OWNER_DATA_FILES.map(({ what }) => what);
}

/** The cloud store's erasure, on an in-memory database with a made-up unit: account deletion and a device's release. */
async function cloudErasure(): Promise<Evidence[]> {
  const { SqlStore, openSqliteDriver } = await import('../cloud/index.ts');
  const { hashClaimCode, generateClaimCode, normaliseClaimCode } = await import('../identity/index.ts');
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const out: Evidence[] = [];
  try {
    const now = Date.now();
    const setup = async (serial: string, account: string): Promise<void> => {
      const code = normaliseClaimCode(generateClaimCode());
      await importMadeUpUnit(store, serial, code, now);
      await store.createAccount({ id: account, email: `${account}@audit.invalid`, passwordHash: '-', createdAt: now });
      await store.openClaimWindow(serial, now + 600_000, 1, now);
      await store.claimDevice(serial, account, hashClaimCode(serial, code), now + 1);
      await store.storeTelemetry(
        [{ serial, seq: 10, at: now + 2, receivedAt: now + 2, values: { energy: 1 } }],
        now + 2,
      );
    };
    await setup('AUD-AAAAAAAAAA', 'audit-a');
    await store.deleteAccount('audit-a');
    const d = await store.getDevice('AUD-AAAAAAAAAA');
    const t = await store.telemetry('AUD-AAAAAAAAAA', 0, 10);
    out.push({
      sent: "the cloud store's account deletion (src/cloud, in-memory database, a made-up unit and owner)",
      received:
        `account ${(await store.accountById('audit-a')) ? 'still there' : 'gone'}, device ` +
        `${d?.ownerId === null ? 'released' : 'still claimed'}, ${t.length} telemetry rows left`,
      finding: d?.ownerId !== null || t.length > 0 || (await store.accountById('audit-a')) !== undefined,
    });
    await setup('AUD-BBBBBBBBBB', 'audit-b');
    await store.releaseByDevice('AUD-BBBBBBBBBB', 20, now + 3);
    const d2 = await store.getDevice('AUD-BBBBBBBBBB');
    const t2 = await store.telemetry('AUD-BBBBBBBBBB', 0, 10);
    out.push({
      sent: "the cloud store's handling of a device's factory-reset release (same database)",
      received:
        `${d2?.ownerId === null ? 'the owner is forgotten' : 'the owner is KEPT'}, ${t2.length} telemetry ` +
        `rows left`,
      finding: d2?.ownerId !== null || t2.length > 0,
    });
  } finally {
    await store.close();
  }
  return out;
}

/**
 * state.factory-reset: a reset leaves no owner secret, setting, pairing, log or claim, and the label's credentials work
 * again.
 */
export async function checkFactoryReset(ctx: AuditContext): Promise<CheckOutcome> {
  const run = await cloneRun(ctx);
  if (run === undefined)
    return notTested('needs --bundle and --state: the auditor resets a copy of the device, never the device itself');
  if (run.failed !== undefined || run.reset === undefined)
    return notTested(
      `the copy of the device could not be reset: ${run.failed ?? 'no result'}`,
      run.notes.map((n) => ({ sent: 'copy the state folder', received: n })),
    );
  const r = run.reset;
  const evidence: Evidence[] = [
    {
      sent:
        `a copy of this device (${run.notes.join('; ')}), run on loopback by the unit's own supervisor and image; ` +
        `its button held (factory reset)`,
      received: r.answer,
    },
    {
      sent: 'owner data in the copy after the reset',
      received:
        r.ownerFilesLeft.length === 0
          ? `gone: ${(await ownerDataKinds()).join(', ')}`
          : `LEFT: ${r.ownerFilesLeft.join(', ')}`,
      finding: r.ownerFilesLeft.length > 0,
    },
    {
      sent: 'every file left after the reset',
      received:
        r.leftover.length === 0
          ? 'only device data (capabilities at their defaults, firmware slots and counter, public update metadata, ' +
            'the journal since the reset)'
          : `unexpected: ${r.leftover.slice(0, 8).join(', ')}`,
      finding: r.leftover.length > 0,
    },
    {
      sent: 'the journal after the reset',
      received:
        r.oldJournal === 0
          ? `${r.journalAfter} entries, all from the reset on`
          : `${r.oldJournal} entries from before the reset are still there`,
      finding: r.oldJournal > 0,
    },
    {
      sent: "the label's credentials after the reset",
      received: r.credentials,
      finding: /refused|still stored|not the setup page/.test(r.credentials),
    },
  ];
  if (r.outbox !== undefined)
    evidence.push({
      sent: "the cloud claim (the copy's link pointed at a closed loopback port)",
      received: r.outbox.release
        ? `the release is queued for the cloud${
            r.outbox.other
              ? `, with ${r.outbox.other} other messages of the ` + `previous owner`
              : ', nothing of the previous owner'
          }`
        : 'NO release queued: the cloud would keep the claim',
      finding: !r.outbox.release || r.outbox.other > 0,
    });
  if (r.counterKept !== undefined)
    evidence.push({
      sent: 'the anti-rollback counter after the reset',
      received: r.counterKept ? 'kept (a reset must not allow a downgrade)' : 'changed or erased',
      finding: !r.counterKept,
    });
  if (ctx.inputs.profile.networkModels.includes('cloud')) evidence.push(...(await cloudErasure()).slice(1));
  return verdict(
    evidence,
    "a factory reset erases the owner's password, sessions, pairings, journal and update choices, releases the " +
      "cloud claim, and the label's credentials work again",
    (f) => `a factory reset leaves the owner's data behind: ${f.map((e) => e.received).join('; ')}`,
  );
}

/**
 * state.data-export: the owner can export their data (owner-only, no secret in it) and erase it, with a confirmation.
 */
export async function checkDataExport(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx))
    return notTested(`${NOT_BULWARK_DEVICE}; another device's export is reached only with the owner's credentials`);
  const evidence: Evidence[] = [];
  if (ctx.target !== undefined) {
    const a = await ctx.exchange('http', {
      method: 'GET',
      path: '/api/export',
      headers: { accept: 'application/json' },
    });
    const exists = a.status === 401 || a.status === 403 || a.status === 303;
    evidence.push({
      sent: `GET /api/export without a session${ctx.fromText('http')}`,
      received:
        a.status === 0
          ? `no answer (${a.error ?? '?'})`
          : exists
            ? `${a.status}: the export exists and is the owner's alone`
            : a.status === 200
              ? "200: the owner's data is given to anyone"
              : `${a.status}${a.status === 404 ? ': there is no export' : ''}`,
      finding: a.status !== 0 && !exists,
    });
  }
  const run = await cloneRun(ctx);
  if (run?.export !== undefined) {
    const e = run.export;
    if ('skipped' in e)
      evidence.push({ sent: "the owner's export on the copy of the device", received: `not read: ${e.skipped}` });
    else {
      const want = ['device', 'capabilities', 'journal'];
      const missing = want.filter((k) => !e.keys.includes(k));
      evidence.push({
        sent:
          `the owner's export on the copy of the device (logged in with the label's password, ` +
          `${e.when === 'before-reset' ? 'before' : 'after'} the reset)`,
        received:
          e.status !== 200
            ? `${e.status}`
            : `${String(e.format)}: ${e.keys.join(', ')}; ${e.journal} journal entries${
                missing.length ? `; MISSING ` + `${missing.join(', ')}` : ''
              }${e.secrets.length ? `; HOLDS ${e.secrets.join(', ')}` : '; no secret'}`,
        finding: e.status !== 200 || missing.length > 0 || e.secrets.length > 0,
      });
    }
  }
  if (run?.reset !== undefined) {
    evidence.push({
      sent: "erasing the owner's data on the device (the factory reset of the copy)",
      received:
        run.reset.ownerFilesLeft.length === 0 && run.reset.oldJournal === 0
          ? `erased, and confirmed: "${run.reset.answer.slice(0, 120)}"`
          : 'not fully erased (see state.factory-reset)',
      finding: run.reset.ownerFilesLeft.length > 0 || run.reset.oldJournal > 0,
    });
  }
  if (ctx.inputs.profile.networkModels.includes('cloud')) evidence.push(...(await cloudErasure()).slice(0, 1));
  if (evidence.length === 0)
    return notTested(
      'needs --url (the export route) or --bundle and --state (the auditor runs the export and the erasure on a ' +
        'copy of the device)',
    );
  if (
    !evidence.some((e) => e.finding === true) &&
    ctx.target === undefined &&
    !(run?.export && !('skipped' in run.export))
  ) {
    return notTested('the export itself was not seen: give --url, or a bundle folder with its label.json', evidence);
  }
  return verdict(
    evidence,
    'the owner exports their data from the admin page (owner-only, no secret in it) and erases it with a factory ' +
      'reset that confirms it, on the device and in the cloud',
    (f) =>
      `the owner cannot export or erase their data properly: ${f.map((e) => `${e.sent} -> ${e.received}`).join('; ')}`,
  );
}
