/**
 * White-box checks of the firmware's build (--source): lint and its bans, the SBOM, hard-coded
 * secrets, the cryptography it depends on, and the absence of a port-mapping client. Bounded walks of the source tree;
 * matches are reported by file name, never by content.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE_FILES } from '../bundle/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readBounded, readJsonBounded, walk } from './files.ts';
import type { Evidence } from './types.ts';
import { repositorySbomEvidence } from './update-checks.ts';

const MAX_SOURCE_FILES = 5_000;
const MAX_SOURCE_FILE_BYTES = 1_048_576;
const CODE = /\.(ts|js|mjs|cjs|json|ya?ml)$/;

/**
 * The firmware's own source files (src/), bounded. Tests are left out, and so is the auditor's
 * own folder (src/audit): its lists of public default passwords and its detection patterns
 * would match themselves, and it never runs on a device.
 */
async function sourceFiles(
  root: string,
): Promise<{ files: Array<{ path: string; name: string }>; truncated: boolean }> {
  const { entries, truncated } = await walk(join(root, 'src'), MAX_SOURCE_FILES, 8);
  return {
    files: entries
      .filter(
        (e) =>
          e.kind === 'file' && CODE.test(e.name) && !/\.test\.[a-z]+$/.test(e.name) && !e.name.startsWith('audit/'),
      )
      .map((e) => ({ path: e.path, name: `src/${e.name}` })),
    truncated,
  };
}

const PRIVATE_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;
const PHC_LITERAL = /\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}/;
const ASSIGNED_SECRET = /\b(password|passwd|secret|api[_-]?key|token)\s*[:=]\s*['"`][^'"`\s]{8,}['"`]/i;

/**
 * build.no-hardcoded-secrets: no private key, password hash or assigned secret literal in the firmware source, and not
 * the unit's own keys.
 */
export async function checkNoHardcodedSecrets(ctx: AuditContext): Promise<CheckOutcome> {
  const root = ctx.inputs.sourceDir;
  if (root === undefined)
    return notTested("needs --source (the firmware's project folder) to scan for hard-coded secrets");
  const { files, truncated } = await sourceFiles(root);
  if (files.length === 0) return notTested(`no source files under ${root}/src`);
  const unitKeys: string[] = [];
  if (ctx.inputs.bundleDir !== undefined) {
    for (const spec of [BUNDLE_FILES.webKey, BUNDLE_FILES.deviceKey]) {
      const f = await readBounded(join(ctx.inputs.bundleDir, spec.name), 65_536);
      const body = f.ok
        ? f.text
            .split('\n')
            .filter((l) => !l.startsWith('-----'))
            .join('')
        : '';
      if (body.length > 40) unitKeys.push(body.slice(0, 64));
    }
  }
  const hits = new Map<string, string[]>();
  for (const f of files) {
    const t = await readBounded(f.path, MAX_SOURCE_FILE_BYTES);
    if (!t.ok) continue;
    const found: string[] = [];
    if (PRIVATE_KEY.test(t.text)) found.push('a PEM private key');
    if (PHC_LITERAL.test(t.text)) found.push('an argon2 hash literal');
    if (ASSIGNED_SECRET.test(t.text)) found.push('a secret assigned as a literal');
    if (unitKeys.some((k) => t.text.replace(/\s+/g, '').includes(k))) found.push("this unit's private key");
    if (found.length) hits.set(f.name, found);
  }
  const evidence: Evidence[] = [
    {
      sent: `scan ${files.length} source files under src/ (tests and the auditor excluded)${
        truncated ? ', first ' + 'ones only' : ''
      }${unitKeys.length ? " also for this unit's private keys" : ''}`,
      received:
        hits.size === 0
          ? 'no private key, password hash or assigned secret literal'
          : [...hits]
              .slice(0, 10)
              .map(([n, w]) => `${n}: ${w.join(', ')}`)
              .join('; '),
      finding: hits.size > 0,
    },
  ];
  return verdict(
    evidence,
    'the firmware source holds no hard-coded key, password or token',
    () => 'the firmware source holds hard-coded secrets',
  );
}

/** Cryptographic dependencies the project allows (ARCHITECTURE "Chosen dependencies"). */
export const CRYPTO_ALLOW_LIST: readonly string[] = [
  '@noble/curves',
  '@noble/hashes',
  '@peculiar/x509',
  'tuf-js',
  '@tufjs/models',
  'reflect-metadata',
];
const CRYPTO_NAME = new RegExp(
  [
    'crypt|cipher|aes|rsa|sha\\d|hash|argon|bcrypt|scrypt|pbkdf|jose|jwt|jws|tls|ssl|forge|sodium|nacl',
    'elliptic|secp|ecdsa|ed25519|x509|pkcs|asn1|noble|spake|srp',
  ].join('|'),
  'i',
);

/** build.crypto-allowlist: every cryptographic dependency of the firmware is on the allow-list. */
export async function checkCryptoAllowList(ctx: AuditContext): Promise<CheckOutcome> {
  const root = ctx.inputs.sourceDir;
  if (root === undefined) return notTested("needs --source (the firmware's project folder) to read its dependencies");
  const { value, reason } = await readJsonBounded(join(root, 'package.json'), 1_048_576);
  if (value === undefined) return notTested(`package.json in ${root}: ${reason ?? 'unreadable'}`);
  const deps = Object.keys((value as { dependencies?: Record<string, string> }).dependencies ?? {});
  const crypto = deps.filter((d) => CRYPTO_NAME.test(d));
  const outside = crypto.filter((d) => !CRYPTO_ALLOW_LIST.includes(d));
  return verdict(
    [
      {
        sent: `the ${deps.length} runtime dependencies in package.json`,
        received:
          `cryptographic: ${crypto.join(', ') || 'none'} (plus node:crypto and ` +
          `node:tls)${outside.length ? `; not allow-listed: ${outside.join(', ')}` : '; all allow-listed'}`,
        finding: outside.length > 0,
      },
    ],
    'cryptography comes only from node:crypto, node:tls and allow-listed audited libraries',
    () => 'the firmware depends on cryptography outside the allow-list',
  );
}

const PORT_MAPPING_DEPS = /upnp|nat-pmp|natpmp|nat-api|port-?mapp|ssdp|miniupnp/i;
const PORT_MAPPING_CODE = /AddPortMapping|M-SEARCH|urn:schemas-upnp-org:service:WANIPConnection|natpmp/i;

/** config.upnp-off: the firmware contains no UPnP or NAT-PMP client, so it never asks the router to forward ports. */
export async function checkUpnpOff(ctx: AuditContext): Promise<CheckOutcome> {
  const root = ctx.inputs.sourceDir;
  if (root === undefined)
    return notTested(
      "needs --source (the firmware's project folder): a device exposes no way to tell black-box whether it maps " +
        'ports on the router',
    );
  const { value } = await readJsonBounded(join(root, 'package.json'), 1_048_576);
  const deps = Object.keys((value as { dependencies?: Record<string, string> } | undefined)?.dependencies ?? {}).filter(
    (d) => PORT_MAPPING_DEPS.test(d),
  );
  const { files } = await sourceFiles(root);
  const code: string[] = [];
  for (const f of files) {
    const t = await readBounded(f.path, MAX_SOURCE_FILE_BYTES);
    if (t.ok && PORT_MAPPING_CODE.test(t.text)) code.push(f.name);
  }
  return verdict(
    [
      {
        sent: 'runtime dependencies in package.json',
        received: deps.length ? `port-mapping clients: ${deps.join(', ')}` : 'no UPnP, NAT-PMP or SSDP client',
        finding: deps.length > 0,
      },
      {
        sent: `${files.length} source files under src/`,
        received: code.length
          ? `port-mapping requests in ${code.slice(0, 5).join(', ')}`
          : 'no AddPortMapping, M-SEARCH or NAT-PMP request',
        finding: code.length > 0,
      },
    ],
    'the firmware has no port-mapping client, so no port is ever forwarded without the owner',
    () => 'the firmware can ask the router to forward ports (an owner setting that keeps it off is not checked yet)',
  );
}

interface ProgramResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a program with an argv array (no shell), bounded output and time. */
function runProgram(
  file: string,
  args: readonly string[],
  o: { cwd: string; stdin?: string; timeoutMs: number; maxBytes: number },
): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      cwd: o.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const out: Buffer[] = [],
      err: Buffer[] = [];
    let size = 0;
    const collect =
      (into: Buffer[]) =>
      (c: Buffer): void => {
        size += c.length;
        if (size <= o.maxBytes) into.push(c);
        else child.kill('SIGKILL');
      };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.stdin ?? '');
  });
}

interface EslintFileResult {
  filePath: string;
  errorCount: number;
  messages: Array<{ ruleId: string | null; severity: number; line: number }>;
}

/** The probe whose every line lint must refuse: the bans on shell execution and eval. */
const LINT_PROBE = "eval('1');\nimport { exec } from 'node:child_process';\nexec('ls');\n";

/** build.lint: lint passes on the firmware source (--source), and its bans on shell and eval fire. */
export async function checkLint(ctx: AuditContext): Promise<CheckOutcome> {
  const source = ctx.inputs.sourceDir;
  if (source === undefined) return notTested("needs --source (the firmware's project folder) to run its lint");
  const eslint = join(source, 'node_modules', 'eslint', 'bin', 'eslint.js');
  if (!existsSync(eslint)) return notTested(`no ESLint in ${source}/node_modules (run npm ci there)`);
  const limits = { cwd: source, timeoutMs: ctx.inputs.limits.lintTimeoutMs, maxBytes: 64 * 1_048_576 };
  const evidence: Evidence[] = [];
  const probe = await runProgram(
    process.execPath,
    [eslint, '--format', 'json', '--stdin', '--stdin-filename', 'src/bulwark-audit-lint-probe.js'],
    { ...limits, stdin: LINT_PROBE },
  );
  let probeResults: EslintFileResult[] | undefined;
  try {
    probeResults = JSON.parse(probe.stdout) as EslintFileResult[];
  } catch {
    /* below */
  }
  if (probeResults === undefined)
    return notTested(
      `ESLint did not run (${
        probe.timedOut
          ? 'timed out'
          : `exit ${String(probe.code)}: ` + `${probe.stderr.split('\n')[0]?.slice(0, 160) ?? ''}`
      })`,
    );
  const hits = new Set(probeResults.flatMap((r) => r.messages.filter((m) => m.severity === 2).map((m) => m.line)));
  const bansFire = hits.has(1) && (hits.has(2) || hits.has(3));
  evidence.push({
    sent: 'lint a probe file calling eval() and child_process.exec()',
    received: bansFire ? 'both refused' : `refused lines: ${[...hits].join(', ') || 'none'}`,
    finding: !bansFire,
  });
  const run = await runProgram(process.execPath, [eslint, '--format', 'json', 'src'], limits);
  let results: EslintFileResult[] | undefined;
  try {
    results = JSON.parse(run.stdout) as EslintFileResult[];
  } catch {
    /* below */
  }
  if (results === undefined)
    return notTested(
      `ESLint did not finish on src (${run.timedOut ? 'timed out' : `exit ${String(run.code)}`})`,
      evidence,
    );
  const errors = results.reduce((n, r) => n + r.errorCount, 0);
  const rules = new Map<string, number>();
  for (const r of results)
    for (const m of r.messages)
      if (m.severity === 2) rules.set(m.ruleId ?? 'parse', (rules.get(m.ruleId ?? 'parse') ?? 0) + 1);
  evidence.push({
    sent: `eslint src in ${source} (${results.length} files)`,
    received:
      errors === 0
        ? 'no errors'
        : `${errors} errors: ${[...rules]
            .slice(0, 8)
            .map(([k, v]) => `${k} x${v}`)
            .join(', ')}`,
    finding: errors > 0,
  });
  return verdict(
    evidence,
    `lint passes on ${results.length} source files and refuses shell execution and eval`,
    () => 'lint fails or its bans do not fire',
  );
}

const SBOM_NAMES = ['sbom.cdx.json', 'image.cdx.json', 'bom.cdx.json', 'bom.json'];

/** The SBOM files present in --bundle or --source (its reports/ and dist/ too), in the order they are preferred. */
export function localSbomFiles(ctx: AuditContext): string[] {
  const dirs = [
    ctx.inputs.bundleDir,
    ctx.inputs.sourceDir,
    ctx.inputs.sourceDir && join(ctx.inputs.sourceDir, 'reports'),
    ctx.inputs.sourceDir && join(ctx.inputs.sourceDir, 'dist'),
  ].filter((d): d is string => d !== undefined);
  const found: string[] = [];
  for (const dir of dirs) for (const name of SBOM_NAMES) if (existsSync(join(dir, name))) found.push(join(dir, name));
  return found;
}

/**
 * build.sbom: a CycloneDX SBOM ships with each image: signed beside it in the update repository, or in --bundle /
 * --source.
 */
export async function checkSbom(ctx: AuditContext): Promise<CheckOutcome> {
  const fromRepo = await repositorySbomEvidence(ctx);
  if (fromRepo !== undefined && fromRepo.some((e) => e.finding !== undefined)) {
    return verdict(
      fromRepo,
      'every published image has a signed CycloneDX SBOM naming it by its hash',
      () => 'an image ships without a valid SBOM',
    );
  }
  const [file] = localSbomFiles(ctx);
  if (file !== undefined) {
    const { value, reason } = await readJsonBounded(file, ctx.inputs.limits.maxInputFileBytes);
    const v = value as { bomFormat?: unknown; specVersion?: unknown; components?: unknown } | undefined;
    const ok = v?.bomFormat === 'CycloneDX' && Array.isArray(v.components) && v.components.length > 0;
    return verdict(
      [
        ...(fromRepo ?? []),
        {
          sent: `read ${file}`,
          received: ok
            ? `CycloneDX ${String(v?.specVersion)} with ${(v.components as unknown[]).length} components`
            : (reason ?? 'not a CycloneDX SBOM with components'),
          finding: !ok,
        },
      ],
      'a CycloneDX SBOM ships with the image',
      () => 'the SBOM is malformed',
    );
  }
  return notTested(
    'no SBOM found: the release side writes one per image (targets/<model>/image.cdx.json in the update ' +
      'repository); give --update-repo, or --bundle or --source holding sbom.cdx.json or image.cdx.json',
    fromRepo ?? [],
  );
}
