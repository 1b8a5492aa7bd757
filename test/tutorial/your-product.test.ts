// docs/your-product.md, run: every command of the tutorial in its order, as the reader types it (split
// into argv here, never through a shell), the files it asks for written from its own blocks, the
// values it asks the reader to note (serial, codes, ports, token) taken from what the commands printed,
// and what a background command prints later (the unit updating itself) awaited within a bound.
// A command the doc changes or breaks fails here, so the tutorial cannot drift from the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { hiddenTools, isCi, toolDecision } from '../support/tools.ts';
import { docSteps, expandWord, splitWords, type Step } from './doc-steps.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'bulwark.js');
const DOC = join(ROOT, 'docs', 'your-product.md');
// An audit of a whole product runs 25 to 35 s alone; a loaded machine must not turn that into a failure.
const COMMAND_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 30_000;
/** The longest wait for what a background command prints later (the update: found, installed, healthy). */
const WATCH_TIMEOUT_MS = 60_000;

/** What a background command prints once it serves, and the values the reader notes from it. */
const READY: ReadonlyArray<{ command: RegExp; line: RegExp; notes: (m: RegExpExecArray) => Record<string, string> }> = [
  {
    command: /^bulwark device run .*thermostat-driver/,
    line: /^device (\S+) ready: (https:\/\/\S+) hub port (\d+)/,
    notes: (m) => ({ WEB_URL: m[2]!, HUB_PORT: m[3]! }),
  },
  {
    command: /^bulwark device run .*garage-door-driver/,
    line: /^device (\S+) ready: (https:\/\/\S+) hub port (\d+)/,
    notes: (m) => ({ DOOR_WEB_URL: m[2]!, DOOR_HUB_PORT: m[3]! }),
  },
  {
    command: /^bulwark hub run /,
    line: /^hub ready: https:\/\/\S+ control \S+ key sha256:[0-9a-f]{64}$/,
    notes: () => ({}),
  },
  {
    command: /^bulwark cloud run /,
    line: /^cloud 1 ready: devices (mqtts:\/\/\S+), owners (https:\/\/\S+) \(sqlite\)$/,
    notes: (m) => ({ CLOUD_URL: m[1]!, OWNER_API: m[2]! }),
  },
  {
    command: /^bulwark release serve /,
    line: /^serving \S+ at (http:\/\/\S+) \(devices: bulwark device run --update-url \1\)$/,
    notes: (m) => ({ UPDATE_URL: m[1]! }),
  },
];

/** What a background command must print after a foreground one, in this order (the unit updating itself). */
const WATCHES: ReadonlyArray<{ after: RegExp; from: RegExp; lines: readonly RegExp[] }> = [
  {
    after: /^bulwark release publish .*thermostat\.model\.json/,
    from: /^bulwark device run .*thermostat-driver/,
    lines: [
      /^update: found 1\.1\.0$/,
      /^update: installed 1\.1\.0$/,
      /^device THM-\S+ ready: https:\/\/\S+ hub port \d+ firmware 1\.1\.0 \(slot [ab]\)$/,
      /^update: healthy 1\.1\.0$/,
    ],
  },
  {
    after: /^bulwark release publish .*garage-door\.model\.json/,
    from: /^bulwark device run .*garage-door-driver/,
    lines: [
      /^update: found 1\.1\.0$/,
      /^update: installed 1\.1\.0$/,
      /^device GDO-\S+ ready: https:\/\/\S+ hub port \d+ firmware 1\.1\.0 \(slot [ab]\)$/,
      /^update: healthy 1\.1\.0$/,
    ],
  },
];

/** A command the doc says to repeat until its answer comes (the first telemetry, within 30 s of the unit's start). */
const RETRIES: ReadonlyArray<{ command: RegExp; until: RegExp; withinMs: number }> = [
  { command: /\$SERIAL\/telemetry\?limit=1"$/, until: /"temperature":18\.5/, withinMs: 45_000 },
];

/** Key output of the tutorial's commands; each must meet at least one command, so none silently goes. */
const CHECKS: ReadonlyArray<{ command: RegExp; output: RegExp }> = [
  { command: /^bulwark factory init /, output: /^factory ready in \S+\n {2}maker: Example Heating Ltd$/m },
  {
    command: /factory provision .*broken\.model\.json/,
    output: /MODEL_FILE_INVALID: model \S+broken\.model\.json: capabilities\[0\]\.value\.max: must be at least min/,
  },
  { command: /factory provision .*thermostat\.model\.json/, output: /^provisioned 1 thermostat unit\(s\)/m },
  { command: /^cat \S+label\.json$/, output: /"setupCode": "\d{4}-\d{4}-\d{4}"/ },
  { command: /^bulwark cloud import /, output: /manifest\.json: 1 units added, [01] already known$/m },
  { command: /^bulwark cloud run /, output: /^cloud 1 ready: devices mqtts:/ },
  { command: /^bulwark release init /, output: /^release repository ready in \S+releases \(root version 1,/m },
  { command: /^bulwark release serve /, output: /^serving \S+releases at http:\/\/127\.0\.0\.1:\d+\/updates / },
  { command: /^bulwark device run .*thermostat-driver/, output: /firmware 0\.1\.0 \(factory image\)$/ },
  {
    command: /^bulwark hub pair .*\$SETUP_CODE$/,
    output: /PAIRING_WINDOW_CLOSED|paired THM-\S+ \(thermostat\) by setup-code/,
  },
  { command: /^bulwark device button --state \S+$/, output: /^pairing window open for 5 min/ },
  {
    command: /^bulwark device button .* --claim$/,
    output: /^cloud claim window open for 10 minutes, until \d\d:\d\d UTC$/m,
  },
  { command: /^curl .*\/v1\/devices\/\$(DOOR_)?SERIAL\/release$/, output: /^\{"ok":true\}$/m },
  { command: /^bulwark hub devices /, output: /THM-\S+ +thermostat .* connected .*temperature=18\.5/ },
  { command: / temperature get$/, output: /^THM-\S+ temperature get: 18\.5$/m },
  { command: / setpoint set 21\.5$/, output: /^THM-\S+ setpoint set: 21\.5$/m },
  { command: / setpoint set 35$/, output: /setpoint: must be from 5 to 30/ },
  { command: / heating get$/, output: /^THM-\S+ heating get: true$/m },
  { command: /^cat \S+\/value$/, output: /^1$/m },
  { command: /^curl .*\/v1\/accounts$/, output: /^\{"ok":true,"message":"If the address can be used/ },
  { command: /^bulwark cloud mail /, output: /Subject: Confirm your e-mail address/ },
  { command: /^curl .*\/v1\/accounts\/verify$/, output: /^\{"ok":true,"verified":true\}$/ },
  { command: /^curl .*\/v1\/sessions$/, output: /"token":"[\w-]{43}"/ },
  {
    command: /^bulwark device button --state \$WORK\/state$/,
    output: /cloud claim window open for 10 minutes, until \d\d:\d\d UTC$/m,
  },
  {
    command: /^curl .*"'\$SERIAL'".*\/v1\/claims$/,
    // Claimed again after the audits, its state comes with its next change: the first claim shows it already.
    output: /"device":\{"serial":"THM-\w+","model":"thermostat",/,
  },
  {
    command: /^curl .*\/v1\/devices\/\$SERIAL\/telemetry\?limit=1"$/,
    output: /^\{"telemetry":\[\{"seq":\d+,.*"values":\{[^}]*"temperature":18\.5/,
  },
  {
    command: /^bulwark release build-image .*thermostat/,
    output: /^built \S+thermostat-1\.1\.0\.tar: thermostat 1\.1\.0, security version 1, entry agent\.mjs$/m,
  },
  {
    command: /^bulwark release publish .*thermostat/,
    output: /^published thermostat 1\.1\.0 \(security version 1, \d+ bytes\)\n[^]*\(CycloneDX 1\.5\)/m,
  },
  { command: /factory provision .*garage-door\.model\.json/, output: /^provisioned 1 garage-door unit\(s\)/m },
  { command: /^bulwark device button .*door-state$/, output: /this model refuses push-button pairing/ },
  {
    command: /^bulwark device button .*door-state$/,
    output: /cloud claim window open for 10 minutes, until \d\d:\d\d UTC$/m,
  },
  { command: /^bulwark hub pair .*\$DOOR_HUB_PORT$/, output: /PAIRING_PUSH_BUTTON_REFUSED/ },
  { command: /^bulwark hub pair .*\$DOOR_SETUP_CODE$/, output: /paired GDO-\S+ \(garage-door\) by setup-code/ },
  { command: /^bulwark hub pair .*\$DOOR_SETUP_CODE$/, output: /access: - \(not granted: door\) +door=closed/ },
  { command: / door open$/, output: /HUB_CAPABILITY_NOT_GRANTED|^GDO-\S+ door open: closed$/m },
  { command: /^bulwark hub grant .* door$/, output: /access: door +door=closed/ },
  { command: / door get$/, output: /^GDO-\S+ door get: open$/m },
  {
    command: /^curl .*"'\$DOOR_SERIAL'".*\/v1\/claims$/,
    // No cloud control of the door either time; its state comes with the first claim (claimed again after the
    // audits, with its next change).
    output: /"serial":"GDO-\w+","model":"garage-door",.*"controls":\[\]/,
  },
  {
    command: /^bulwark release build-image .*garage-door/,
    output: /^built \S+garage-door-1\.1\.0\.tar: garage-door 1\.1\.0, security version 1/m,
  },
  { command: /^bulwark release publish .*garage-door/, output: /^published garage-door 1\.1\.0 / },
  {
    command: /^bulwark release vulns .*tar-advisory\.json$/,
    output: /^1 advisories imported; 0 affect published releases$/m,
  },
  { command: /^bulwark release vulns --repo \S+$/, output: /^0 advisories imported; 0 affect published releases$/m },
  {
    command: /^bulwark release vulns .*ms-advisory\.json$/,
    output: /^1 advisories imported; 1 affect published releases\nEXAMPLE-2026-0002 \[no statement\] ms: /m,
  },
  { command: /^bulwark release vulns .*ms-advisory\.json$/, output: /^ {2}thermostat 1\.1\.0 \(ms@\S+\)$/m },
  { command: /^bulwark release vulns .*ms-advisory\.json$/, output: /^ {2}garage-door 1\.1\.0 \(ms@\S+\)$/m },
  {
    command: /^bulwark release vex .*not_affected$/,
    output: /error VULN_STATEMENT_INVALID: "not affected" needs one of CycloneDX's justifications/,
  },
  {
    command: /^bulwark release vex .*--justification code_not_reachable /,
    output: /^EXAMPLE-2026-0002: not_affected \(code_not_reachable\) for thermostat 1\.1\.0, garage-door 1\.1\.0$/m,
  },
  {
    command: /^bulwark release vex .*--justification code_not_reachable /,
    output: /^ {2}signed thermostat\/vex\.cdx\.json \(\S+\.vex\.cdx\.json\)$/m,
  },
  {
    command: /^bulwark release advisory /,
    output: /^wrote the CSAF 2\.0 advisory of EXAMPLE-2026-0002 to \S+advisory\.json$/m,
  },
  {
    command: /^bulwark cloud advisory publish /,
    output: /^published: \/\.well-known\/csaf\/\d{4}\/example-2026-0002\.json \(EXAMPLE-2026-0002\)$/m,
  },
  { command: /^curl .*\/\.well-known\/csaf\/index\.txt$/, output: /^\d{4}\/example-2026-0002\.json$/m },
  {
    command: /^bulwark audit .*thermostat.* --keep-report /,
    output: auditLine('Room Thermostat', 1),
  },
  {
    command: /^bulwark audit .*thermostat.* --keep-report /,
    output: /^ {2}FAIL {2}RELEASE-GATE: failed: build\.audit-report$/m,
  },
  {
    command: /^bulwark audit .*thermostat.* --keep-report /,
    output: /^kept with the release: \S+audits\/thermostat\/1\.1\.0-/m,
  },
  {
    command: /^bulwark audit .*thermostat.* --loopback-source /,
    output: auditLine('Room Thermostat', 0),
  },
  {
    command: /^bulwark audit .*garage-door.* --keep-report$/,
    output: auditLine('Garage Door Opener', 1),
  },
  {
    command: /^bulwark audit .*garage-door.* --keep-report$/,
    output: /^kept with the release: \S+audits\/garage-door\/1\.1\.0-/m,
  },
  {
    command: /^bulwark audit .*garage-door.*127\.0\.3\.50$/,
    output: auditLine('Garage Door Opener', 0),
  },
];

/** The audit's summary line for `model` with `fail` failures and nothing untested (tested and declared apart). */
function auditLine(model: string, fail: number): RegExp {
  const counts = `\\d+ pass, \\d+ declared by the maker, ${fail} fail, 0 not tested of \\d+ required controls`;
  return new RegExp(`^audit of ${model} \\(tier \\d\\): ${counts}$`, 'm');
}

/** What the reader is told to note, and how it must look in the doc's example. */
const NOTED: Readonly<Record<string, RegExp>> = {
  SERIAL: /^THM-[0-9A-Z]{10}$/,
  SETUP_CODE: /^\d{4}-\d{4}-\d{4}$/,
  CLAIM_CODE: /^[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}$/,
  CLOUD_URL: /^mqtts:\/\/127\.0\.0\.1:\d+$/,
  OWNER_API: /^https:\/\/127\.0\.0\.1:\d+$/,
  UPDATE_URL: /^http:\/\/127\.0\.0\.1:\d+\/updates$/,
  TOKEN: /^[\w-]{43}$/,
  CONFIRM_TOKEN: /^[\w-]{16}\.[\w-]{43}$/,
  WEB_URL: /^https:\/\/127\.0\.0\.1:\d+$/,
  HUB_PORT: /^\d+$/,
  DOOR_SERIAL: /^GDO-[0-9A-Z]{10}$/,
  DOOR_SETUP_CODE: /^\d{4}-\d{4}-\d{4}$/,
  DOOR_HUB_PORT: /^\d+$/,
  DOOR_CLAIM_CODE: /^[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}$/,
  DOOR_WEB_URL: /^https:\/\/127\.0\.0\.1:\d+$/,
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The tools the reader needs beside Node: python3 (the example drivers) and curl (the owner's API calls). */
function tool(name: 'python3' | 'curl'): 'run' | 'skip' | 'fail' {
  if (hiddenTools(process.env).has(name)) return toolDecision(false, isCi(process.env));
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return 'run';
  } catch {
    return toolDecision(false, isCi(process.env));
  }
}

/** `bulwark` is this checkout's command under this Node; any other program is looked up on PATH. */
function program(argv: readonly string[]): [string, string[]] {
  return argv[0] === 'bulwark' ? [process.execPath, [BIN, ...argv.slice(1)]] : [argv[0]!, argv.slice(1)];
}

function runForeground(argv: readonly string[]): Promise<Run> {
  const [file, args] = program(argv);
  return new Promise((resolve) =>
    execFile(file, args, { cwd: ROOT, timeout: COMMAND_TIMEOUT_MS }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

/**
 * Starts a background command and resolves with its ready line's match, within READY_TIMEOUT_MS; every
 * line it prints, then and later, goes to `onLine`.
 */
function runBackground(
  argv: readonly string[],
  ready: RegExp,
  children: ChildProcess[],
  onLine: (line: string) => void,
): Promise<RegExpExecArray> {
  // The reader's terminal shows the services' text lines; through this pipe they would be JSON lines.
  const service = /^bulwark (device|hub|cloud) run$/.test(argv.slice(0, 3).join(' '));
  const [file, args] = program(service ? [...argv.slice(0, 3), '--log-format', 'text', ...argv.slice(3)] : argv);
  const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line; stderr: ${stderr}`)), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
      onLine(line);
      const m = ready.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before its ready line: ${stderr}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The tutorial as it runs: variables set so far, values noted from output, background processes, timings. */
class Tutorial {
  readonly vars = new Map<string, string>();
  readonly noted = new Map<string, string>();
  readonly children: ChildProcess[] = [];
  /** What each background command has printed so far, by its command line. */
  readonly printed = new Map<string, string[]>();
  readonly timings: Array<{ line: number; text: string; ms: number }> = [];
  readonly checksMet = new Set<number>();
  /** The summary line of each audit, for the run's diagnostics. */
  readonly audits: string[] = [];

  readonly work: string;

  constructor(work: string) {
    this.work = work;
  }

  async step(s: Step): Promise<void> {
    const started = performance.now();
    if (s.kind === 'file') await writeFile(join(this.work, s.name), s.text);
    else if (s.kind === 'assign') this.assign(s.name, s.value, s.line);
    else await this.command(s);
    const text = s.kind === 'run' ? s.text : s.kind === 'file' ? `(save ${s.name})` : `${s.name}=...`;
    this.timings.push({ line: s.line, text, ms: performance.now() - started });
  }

  /** WORK is this test's folder; a noted value is the one the commands printed, the doc's being an example. */
  private assign(name: string, example: string, line: number): void {
    if (name === 'WORK') return void this.vars.set(name, this.work);
    const shape = NOTED[name];
    if (!shape) return void this.vars.set(name, example);
    assert.match(example, shape, `line ${line}: the doc's example ${name}`);
    const value = this.noted.get(name);
    assert.ok(value, `line ${line}: the doc asks to note ${name} before a command shows it`);
    this.vars.set(name, value);
  }

  private async command(s: Extract<Step, { kind: 'run' }>): Promise<void> {
    const argv = s.words.map((w) => expandWord(w, this.vars));
    const where = `line ${s.line}: ${s.text}`;
    if (s.background) {
      const ready = READY.find((r) => r.command.test(s.text));
      assert.ok(ready, `${where}: a background command this test does not know the ready line of`);
      const lines: string[] = [];
      this.printed.set(s.text, lines);
      // A later ready line (the unit restarted on an update) gives the values to note anew.
      const m = await runBackground(argv, ready.line, this.children, (line) => {
        lines.push(line);
        const again = ready.line.exec(line);
        if (again) for (const [k, v] of Object.entries(ready.notes(again))) this.noted.set(k, v);
      });
      return this.check(s.text, m.input);
    }
    const printedBefore = new Map([...this.printed].map(([k, v]) => [k, v.length]));
    const r = await this.runRetrying(s.text, argv);
    assert.equal(r.code, s.exitCode, `${where}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    if (s.stdoutTo) await writeFile(expandWord(s.stdoutTo, this.vars), r.stdout);
    this.learn(s.text, r);
    if (/^bulwark audit /.test(s.text)) this.audits.push(r.stdout.split('\n')[0] ?? '');
    this.check(s.text, r.stdout + r.stderr);
    for (const w of WATCHES.filter((x) => x.after.test(s.text))) await this.watch(w, printedBefore);
  }

  /** Runs a command once, or again every 2 s while a retry rule's answer has not come, within its bound. */
  private async runRetrying(text: string, argv: readonly string[]): Promise<Run> {
    const rule = RETRIES.find((x) => x.command.test(text));
    const deadline = performance.now() + (rule?.withinMs ?? 0);
    for (;;) {
      const r = await runForeground(argv);
      if (!rule || rule.until.test(r.stdout) || performance.now() > deadline) return r;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }

  /** Waits, within WATCH_TIMEOUT_MS, for a background command to print a watch's lines in order. */
  private async watch(w: (typeof WATCHES)[number], before: ReadonlyMap<string, number>): Promise<void> {
    const from = [...this.printed.keys()].find((k) => w.from.test(k));
    assert.ok(from, `no background command ${String(w.from)} is running`);
    const lines = this.printed.get(from)!;
    const deadline = performance.now() + WATCH_TIMEOUT_MS;
    for (;;) {
      let next = 0;
      for (const line of lines.slice(before.get(from) ?? 0))
        if (next < w.lines.length && w.lines[next]!.test(line)) next++;
      if (next === w.lines.length) return;
      if (performance.now() > deadline) {
        assert.fail(`${from} did not print ${String(w.lines[next])}; it printed:\n${lines.slice(-30).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The values the reader is told to note, from the commands that print them. */
  private learn(text: string, r: Run): void {
    if (r.code !== 0) return;
    const serial = /^bulwark factory provision /.test(text) ? /^ {2}(\S+) {2}sticker:/m.exec(r.stdout) : null;
    const door = (name: string): string => (/GDO-|DOOR_/.test(text + (serial?.[1] ?? '')) ? `DOOR_${name}` : name);
    if (serial) this.noted.set(door('SERIAL'), serial[1]!);
    if (/^cat \S+label\.json$/.test(text)) {
      const label = JSON.parse(r.stdout) as { setupCode: string; claimCode: string };
      this.noted.set(door('SETUP_CODE'), label.setupCode);
      this.noted.set(door('CLAIM_CODE'), label.claimCode);
    }
    if (/^bulwark cloud mail /.test(text)) {
      const token = /\/verify\?token=([\w-]{16}\.[\w-]{43})/.exec(r.stdout)?.[1];
      if (token) this.noted.set('CONFIRM_TOKEN', token);
    }
    if (/^curl .*\/v1\/sessions$/.test(text))
      this.noted.set('TOKEN', (JSON.parse(r.stdout) as { token: string }).token);
  }

  private check(text: string, output: string): void {
    CHECKS.forEach((c, i) => {
      if (!c.command.test(text)) return;
      assert.match(output, c.output, `the output of ${text}`);
      this.checksMet.add(i);
    });
  }
}

test('command lines split into words as a shell would, and what needs a shell is refused', () => {
  const words = splitWords(`sed 's/"max": 30/"max": 3/' $WORK/a.json "x y"`).map((w) => w.map((p) => p.text).join(''));
  assert.deepEqual(words, ['sed', 's/"max": 30/"max": 3/', '$WORK/a.json', 'x y']);
  assert.equal(expandWord(splitWords("'$WORK'")[0]!, new Map([['WORK', '/w']])), '$WORK');
  assert.equal(expandWord(splitWords('${WORK}/b')[0]!, new Map([['WORK', '/w']])), '/w/b');
  assert.deepEqual(splitWords('curl "$A/t?limit=1"')[1], [{ text: '$A/t?limit=1', expand: true }]);
  for (const bad of ['ls | wc', 'rm *.json', 'echo $(id)', 'echo "$(id)"', 'echo "\\$A"', "echo 'open"]) {
    assert.throws(() => splitWords(bad));
  }
  const [step] = docSteps('```sh\nbulwark x --y 1 # exit 3\n```\n');
  assert.ok(step?.kind === 'run' && step.exitCode === 3 && !step.background);
});

test('docs/your-product.md runs as written, command by command', { timeout: 480_000 }, async (t) => {
  for (const name of ['python3', 'curl'] as const) {
    const decision = tool(name);
    if (decision === 'fail') assert.fail(`${name} is required in CI (apt-get install ${name})`);
    if (decision === 'skip') return t.skip(`${name} not installed: apt-get install ${name}`);
  }
  const steps = docSteps(await readFile(DOC, 'utf8'));
  assert.ok(steps.filter((s) => s.kind === 'run').length >= 15, 'the tutorial has its commands');
  const tutorial = new Tutorial(await mkdtemp(join(tmpdir(), 'bulwark-tutorial-')));
  const started = performance.now();
  try {
    for (const s of steps) await tutorial.step(s);
  } finally {
    await Promise.all(tutorial.children.map((c) => stop(c)));
    for (const s of tutorial.timings) t.diagnostic(`${(s.ms / 1000).toFixed(2)} s  line ${s.line}: ${s.text}`);
    for (const a of tutorial.audits) t.diagnostic(a);
    t.diagnostic(`whole tutorial: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (!process.env.KEEP_TUTORIAL) await rm(tutorial.work, { recursive: true, force: true });
  }
  const unmet = CHECKS.filter((_, i) => !tutorial.checksMet.has(i)).map((c) => String(c.command));
  assert.deepEqual(unmet, [], 'every expected step is in the tutorial');
});
