// docs/your-product.md, run: every command of the tutorial in its order, as the reader types it (split
// into argv here, never through a shell), the files it asks for written from its own blocks, the
// values it asks the reader to note (serial, setup code, ports) taken from what the commands printed.
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
const COMMAND_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;

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
  {
    command: /^bulwark hub pair .*\$SETUP_CODE$/,
    output: /PAIRING_WINDOW_CLOSED|paired THM-\S+ \(thermostat\) by setup-code/,
  },
  { command: /^bulwark device button /, output: /^pairing window open for 5 min/ },
  { command: /^bulwark hub devices /, output: /THM-\S+ +thermostat .* connected .*temperature=18\.5/ },
  { command: / temperature get$/, output: /^THM-\S+ temperature get: 18\.5$/m },
  { command: / setpoint set 21\.5$/, output: /^THM-\S+ setpoint set: 21\.5$/m },
  { command: / setpoint set 35$/, output: /setpoint: must be from 5 to 30/ },
  { command: / heating get$/, output: /^THM-\S+ heating get: true$/m },
  { command: /^cat \S+\/value$/, output: /^1$/m },
  { command: /factory provision .*garage-door\.model\.json/, output: /^provisioned 1 garage-door unit\(s\)/m },
  { command: /^bulwark device button .*door-state$/, output: /this model refuses push-button pairing/ },
  { command: /^bulwark hub pair .*\$DOOR_HUB_PORT$/, output: /PAIRING_PUSH_BUTTON_REFUSED/ },
  { command: /^bulwark hub pair .*\$DOOR_SETUP_CODE$/, output: /paired GDO-\S+ \(garage-door\) by setup-code/ },
  { command: /^bulwark hub pair .*\$DOOR_SETUP_CODE$/, output: /access: - \(not granted: door\) +door=closed/ },
  { command: / door open$/, output: /HUB_CAPABILITY_NOT_GRANTED|^GDO-\S+ door open: closed$/m },
  { command: /^bulwark hub grant .* door$/, output: /access: door +door=closed/ },
  { command: / door get$/, output: /^GDO-\S+ door get: open$/m },
  {
    command: /^bulwark audit /,
    output: /^audit of Room Thermostat \(tier \d\): \d+ pass, 0 fail, \d+ not tested of \d+ required controls$/m,
  },
];

/** What the reader is told to note, and how it must look in the doc's example. */
const NOTED: Readonly<Record<string, RegExp>> = {
  SERIAL: /^THM-[0-9A-Z]{10}$/,
  SETUP_CODE: /^\d{4}-\d{4}-\d{4}$/,
  WEB_URL: /^https:\/\/127\.0\.0\.1:\d+$/,
  HUB_PORT: /^\d+$/,
  DOOR_SERIAL: /^GDO-[0-9A-Z]{10}$/,
  DOOR_SETUP_CODE: /^\d{4}-\d{4}-\d{4}$/,
  DOOR_HUB_PORT: /^\d+$/,
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function python(): 'run' | 'skip' | 'fail' {
  if (hiddenTools(process.env).has('python3')) return toolDecision(false, isCi(process.env));
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore', timeout: 10_000 });
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

/** Starts a background command and resolves with its ready line's match, within READY_TIMEOUT_MS. */
function runBackground(argv: readonly string[], ready: RegExp, children: ChildProcess[]): Promise<RegExpExecArray> {
  const [file, args] = program(argv);
  const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line; stderr: ${stderr}`)), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
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
  readonly timings: Array<{ line: number; text: string; ms: number }> = [];
  readonly checksMet = new Set<number>();

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
      const m = await runBackground(argv, ready.line, this.children);
      for (const [k, v] of Object.entries(ready.notes(m))) this.noted.set(k, v);
      return this.check(s.text, m[0]);
    }
    const r = await runForeground(argv);
    assert.equal(r.code, s.exitCode, `${where}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    if (s.stdoutTo) await writeFile(expandWord(s.stdoutTo, this.vars), r.stdout);
    this.learn(s.text, r);
    this.check(s.text, r.stdout + r.stderr);
  }

  /** The values the reader is told to note, from the commands that print them. */
  private learn(text: string, r: Run): void {
    if (r.code !== 0) return;
    const serial = /^bulwark factory provision /.test(text) ? /^ {2}(\S+) {2}sticker:/m.exec(r.stdout) : null;
    const door = (name: string): string => (/GDO-|DOOR_/.test(text + (serial?.[1] ?? '')) ? `DOOR_${name}` : name);
    if (serial) this.noted.set(door('SERIAL'), serial[1]!);
    if (/^cat \S+label\.json$/.test(text)) {
      this.noted.set(door('SETUP_CODE'), (JSON.parse(r.stdout) as { setupCode: string }).setupCode);
    }
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
  for (const bad of ['ls | wc', 'rm *.json', 'echo $(id)', "echo 'open"]) assert.throws(() => splitWords(bad));
  const [step] = docSteps('```sh\nbulwark x --y 1 # exit 3\n```\n');
  assert.ok(step?.kind === 'run' && step.exitCode === 3 && !step.background);
});

test('docs/your-product.md runs as written, command by command', { timeout: 240_000 }, async (t) => {
  const decision = python();
  if (decision === 'fail') assert.fail('python3 is required in CI (apt-get install python3)');
  if (decision === 'skip') return t.skip('python3 not installed: apt-get install python3');
  const steps = docSteps(await readFile(DOC, 'utf8'));
  assert.ok(steps.filter((s) => s.kind === 'run').length >= 15, 'the tutorial has its commands');
  const tutorial = new Tutorial(await mkdtemp(join(tmpdir(), 'bulwark-tutorial-')));
  const started = performance.now();
  try {
    for (const s of steps) await tutorial.step(s);
  } finally {
    await Promise.all(tutorial.children.map((c) => stop(c)));
    for (const s of tutorial.timings) t.diagnostic(`${(s.ms / 1000).toFixed(2)} s  line ${s.line}: ${s.text}`);
    t.diagnostic(`whole tutorial: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await rm(tutorial.work, { recursive: true, force: true });
  }
  const unmet = CHECKS.filter((_, i) => !tutorial.checksMet.has(i)).map((c) => String(c.command));
  assert.deepEqual(unmet, [], 'every expected step is in the tutorial');
});
