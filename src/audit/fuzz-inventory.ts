/**
 * build.fuzz-targets: the inventory of the firmware's parsers and the fuzz targets that cover
 * them. Parsers are found by convention in the source (exported `parse*` and `decode*` functions
 * and `*Decoder` classes, plus the readers listed here), so a new parser that nobody listed is a
 * finding; each parser of outside input must be named by a fast-check test, or reached by one
 * listed as its route in (an HTTP or channel fuzz test); parsers of the device's own files and
 * of the operator's command line are listed with the reason they are not fuzzed.
 */
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readBounded, walk } from './files.ts';
import type { Evidence } from './types.ts';

/** One parser of the firmware. */
export interface ParserEntry {
  /** The exported function or class. */
  readonly name: string;
  /** Its module under src/. */
  readonly module: string;
  /**
   * 'outside': input from the network, a scanned label or a release; 'local': the device's own files, the factory's
   * bundle or the operator's command line.
   */
  readonly input: 'outside' | 'local';
  /** Why a local parser is not fuzzed, or what an outside one reads. */
  readonly note: string;
  /** Fuzz tests that reach it through its route in (HTTP, channel), when they do not name it. */
  readonly via?: readonly string[];
}

/** A row of the inventory: name, module, note and, when fuzz tests reach it only through its route in, those tests. */
type InventoryRow = readonly [name: string, module: string, note: string, via?: readonly string[]];

/** Parsers of input from the network, a scanned label or a release: each must be fuzzed. */
const OUTSIDE_PARSERS: readonly InventoryRow[] = [
  ['FrameDecoder', 'channel/frame.ts', 'hub-device channel frames'],
  ['parseMessage', 'channel/messages.ts', 'hub-device channel messages'],
  ['parseHubMessage', 'pairing/protocol.ts', 'pairing messages from a hub'],
  ['parseDeviceMessage', 'pairing/protocol.ts', 'pairing messages from a device'],
  [
    'decodePoint',
    'pairing/group.ts',
    'SPAKE2+ shares (curve points)',
    ['test/hub/fuzz.test.ts', 'src/pairing/spake2plus.test.ts'],
  ],
  ['parseDeviceTopic', 'cloudprotocol/topics.ts', 'MQTT topics'],
  ['parseRevocationRequest', 'cloud/revocation.ts', "the maker's revocation requests (maker API body)"],
  ['parseRabbitmqQuestion', 'cloud/rabbitmq-auth.ts', "a RabbitMQ node's questions to the cloud's auth backend"],
  ['parseKeyRotation', 'pairing/rotation.ts', "a device's channel-key rotation statement, read by the hub"],
  ['parseJsonPayload', 'cloudprotocol/payloads.ts', 'MQTT payloads'],
  ['parseTelemetry', 'cloudprotocol/payloads.ts', 'device telemetry'],
  ['parseState', 'cloudprotocol/payloads.ts', 'device state'],
  ['parseClaim', 'cloudprotocol/payloads.ts', 'claim events'],
  ['parseSync', 'cloudprotocol/payloads.ts', 'sync requests'],
  ['parseReceipt', 'cloudprotocol/payloads.ts', 'cloud receipts'],
  ['parseClaimWindow', 'cloudprotocol/payloads.ts', "the cloud's answer to a claim window-open"],
  ['parsePresence', 'cloudprotocol/payloads.ts', 'presence messages'],
  ['parseCommand', 'cloudprotocol/payloads.ts', 'cloud commands'],
  ['parseReply', 'cloudprotocol/payloads.ts', 'command replies'],
  ['parseFirmware', 'cloudprotocol/payloads.ts', 'firmware reports: running image and update outcomes'],
  ['parseEnrol', 'cloudprotocol/payloads.ts', "a unit's request for an operational certificate"],
  ['parseCertificateMessage', 'cloudprotocol/payloads.ts', "the cloud's answer with an operational certificate"],
  ['MqttDecoder', 'mqtt/codec.ts', 'MQTT packets from the broker'],
  ['parseCookies', 'web/http.ts', 'HTTP Cookie headers', ['test/web/fuzz.test.ts', 'test/cloud/fuzz.test.ts']],
  [
    'parseBody',
    'web/http.ts',
    "HTTP request bodies (the maker's sign-in form among them)",
    ['test/web/fuzz.test.ts', 'test/cloud/fuzz.test.ts', 'src/cloud/security.fuzz.test.ts'],
  ],
  ['parseStickerUri', 'identity/sticker.ts', "the label's QR code, as an app or hub scans it"],
  ['parseImageManifest', 'update/image.ts', 'image.json inside a downloaded image'],
  ['parseImageTargetCustom', 'update/image.ts', 'the signed custom data of a release'],
  ['parseDeltaTargetCustom', 'update/image.ts', "a delta target's signed custom data"],
  ['applyDelta', 'update/delta.ts', 'a downloaded delta (zstd patch-from)'],
  ['readImageArchive', 'update/archive.ts', 'a downloaded image archive (tar)'],
  ['parseUpdateFileInfo', 'update/update-file-format.ts', "an update file's update.json, as the owner uploads it"],
  ['parseVersion', 'update/semver.ts', 'versions in release metadata'],
  ['parseProfile', 'policy/profile.ts', 'device profiles (YAML) a manufacturer writes'],
  ['parseDriverLine', 'driver/protocol.ts', "lines from the maker's driver process (the agent's side)"],
  ['parseAgentLine', 'driver/protocol.ts', "lines from the agent (the driver kit's side)"],
  ['parseOsvAdvisory', 'vulns/osv.ts', 'OSV advisories from outside (GitHub, OSV.dev), read offline'],
  ['parseCsafAdvisories', 'vulns/csaf-in.ts', "a third party's CSAF 2.0 advisories, read offline"],
  ['parseAdvisoryDocument', 'vulns/load.ts', 'an advisory file of either format, or a list of them'],
  ['parseVers', 'vulns/advisory.ts', "a CSAF advisory's vers: version ranges"],
  ['parseNpmPurl', 'vulns/purl.ts', "package URLs in advisories and in a release's SBOM"],
  ['parseSemVer', 'vulns/semver.ts', 'versions advisories and SBOMs name'],
  ['parseFieldCounts', 'vulns/field.ts', "the cloud maker API's answer: units per release"],
  ['parseUserRole', 'auth/roles.ts', "a person's role as the owner types it (People form, the device's and the hub's)"],
  ['parseUserExpiry', 'auth/roles.ts', "a guest's end date as the owner types it (People form)"],
  ['parseInvitation', 'cloud/household.ts', "a household invitation's role and end date (owner API body, the form)"],
  [
    'parseDisclosureReport',
    'cloud/disclosure.ts',
    'disclosure reports from anyone (POST /v1/security/reports, the form)',
  ],
  ['parseAwareTime', 'cloud/cra-drafts.ts', 'CRA times from the maker API and the maker pages'],
  ['parseCaseRef', 'cloud/cra-drafts.ts', "a CRA case's reference from the maker API"],
  ['parseReportKind', 'cloud/cra-drafts.ts', 'a CRA report name from the maker API and the maker pages'],
  ['mergeCraFacts', 'cloud/cra-drafts.ts', "a CRA case's facts from the maker API (request bodies)"],
  ['checkAdvisory', 'cloud/csaf-provider.ts', 'CSAF advisories uploaded to the provider (POST /v1/maker/advisories)'],
  [
    'parseFactsRecord',
    'policy/facts.ts',
    'security facts records: `cloud facts publish` input, and the record the auditor fetches from a cloud',
  ],
];

/** Parsers of the device's own files, the factory's bundle or the operator's command line, with why. */
const LOCAL_PARSERS: readonly InventoryRow[] = [
  ['parseLockoutState', 'auth/lockout.ts', "the device's own counters file (fuzzed all the same)"],
  ['parseSessionState', 'auth/sessions.ts', "the device's own sessions file (fuzzed all the same)"],
  ['parseDeviceCookieState', 'auth/device-cookie.ts', "the device's own device-cookie list"],
  ['parseDeviceCookieKey', 'auth/device-cookie.ts', "the device's own device-cookie key file"],
  ['parsePasswordHash', 'auth/password-hash.ts', 'hashes the device or the factory wrote (fuzzed all the same)'],
  ['parseStoredLine', 'journal/entry.ts', "the device's own journal; a torn line is skipped"],
  ['parseUnitRecord', 'bundle/index.ts', "the factory's bundle, flashed at production"],
  ['parsePairingVerifierRecord', 'pairing/verifier.ts', "the factory's bundle, flashed at production"],
  ['parseBootState', 'update/slots.ts', "the device's own boot.json, written atomically by itself"],
  ['parseUserList', 'auth/roles.ts', "the device's own users.json and the hub's web.users row (fuzzed all the same)"],
  ['parseMonitoringChoice', 'web/owner-state.ts', "the device's own monitoring.json, written atomically by itself"],
  ['parseDeviceAddress', 'hub/hub.ts', "an address the hub's owner types"],
  ['parsePendingRevocations', 'hub/hub.ts', "the hub's own store row of person removals not yet delivered"],
  ['parseDuration', 'update/config.ts', "an operator's command-line option"],
  ['parseCallValue', 'cli/hub-commands.ts', "an operator's command-line argument"],
  ['parseMqttsUrl', 'mqtt/client.ts', "the cloud operator's and the device's configuration"],
  ['loadAdvisories', 'release/vuln-records.ts', "the repository's own advisory records (parsed when imported)"],
  ['loadStatements', 'release/vuln-records.ts', "the repository's own VEX statements, written by release vex"],
  ['checkStatement', 'vulns/vex.ts', "the maker's VEX statement on the command line (release vex)"],
  [
    'parseAuditEvidence',
    'techfile/audit-input.ts',
    "the maker's own audit report, named on the command line (policy techfile --audit-report)",
  ],
  [
    'parseModel',
    'models/model-file.ts',
    "a maker's model file at the factory (a device's model reaches a hub as a document)",
  ],
];

function inventoryEntries(input: ParserEntry['input'], rows: readonly InventoryRow[]): ParserEntry[] {
  return rows.map(([name, module, note, via]) => ({ name, module, input, note, ...(via ? { via } : {}) }));
}

/** Every parser of the firmware (src/, the auditor aside). */
export const PARSER_INVENTORY: readonly ParserEntry[] = Object.freeze([
  ...inventoryEntries('outside', OUTSIDE_PARSERS),
  ...inventoryEntries('local', LOCAL_PARSERS),
]);

const DISCOVER = /export\s+(?:async\s+)?function\s+((?:parse|decode)[A-Z]\w*)|export\s+class\s+(\w*Decoder)\b/g;
const MAX_FILES = 5_000;

/** build.fuzz-targets: every parser of outside input has a fuzz target; every parser is in the inventory. */
export async function checkFuzzTargets(ctx: AuditContext): Promise<CheckOutcome> {
  const root = ctx.inputs.sourceDir;
  if (root === undefined)
    return notTested("needs --source (the firmware's project folder) to match its parsers with its fuzz tests");
  const src = await walk(join(root, 'src'), MAX_FILES, 8);
  const tests = await walk(join(root, 'test'), MAX_FILES, 8);
  const code = src.entries.filter(
    (e) => e.kind === 'file' && /\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) && !e.name.startsWith('audit/'),
  );
  if (code.length === 0) return notTested(`no source files under ${root}/src`);
  // Fuzz tests: test files that use fast-check, under src/ and test/.
  const fuzz = new Map<string, string>();
  for (const [base, list] of [
    ['src', src.entries],
    ['test', tests.entries],
  ] as const) {
    for (const e of list) {
      if (e.kind !== 'file' || !/\.test\.ts$/.test(e.name)) continue;
      const t = await readBounded(e.path, 2 * 1_048_576);
      if (t.ok && /from\s+['"]fast-check['"]/.test(t.text)) fuzz.set(`${base}/${e.name}`, t.text);
    }
  }
  const found = new Map<string, string>();
  for (const f of code) {
    const t = await readBounded(f.path, 2 * 1_048_576);
    if (!t.ok) continue;
    for (const m of t.text.matchAll(DISCOVER)) found.set(`${f.name}#${m[1] ?? m[2]}`, f.name);
  }
  for (const p of PARSER_INVENTORY) {
    const t = await readBounded(join(root, 'src', p.module), 2 * 1_048_576);
    if (t.ok && new RegExp(`export\\s+(async\\s+)?(function|class)\\s+${p.name}\\b`).test(t.text))
      found.set(`${p.module}#${p.name}`, p.module);
  }
  const listed = new Set(PARSER_INVENTORY.map((p) => `${p.module}#${p.name}`));
  const unlisted = [...found.keys()].filter((k) => !listed.has(k));
  const stale = PARSER_INVENTORY.filter((p) => !found.has(`${p.module}#${p.name}`));
  const evidence: Evidence[] = [
    {
      sent:
        `exported parse*/decode* functions and *Decoder classes in ${code.length} source files (the auditor ` +
        `aside), against the inventory of ${PARSER_INVENTORY.length} parsers`,
      received: `${found.size} found${
        unlisted.length
          ? `; not in the inventory: ` + `${unlisted.map((k) => k.replace('#', ' ')).join(', ')}`
          : ', each listed'
      }${stale.length ? `; listed but gone: ${stale.map((p) => p.name).join(', ')}` : ''}`,
      finding: unlisted.length > 0,
    },
  ];
  const uncovered: string[] = [];
  const covered: string[] = [];
  for (const p of PARSER_INVENTORY.filter((x) => x.input === 'outside' && found.has(`${x.module}#${x.name}`))) {
    const named = [...fuzz].filter(([, text]) => new RegExp(`\\b${p.name}\\b`).test(text)).map(([f]) => f);
    const via = (p.via ?? []).filter((f) => fuzz.has(f));
    if (named.length + via.length === 0) uncovered.push(`${p.name} (${p.note})`);
    else covered.push(`${p.name}: ${[...named, ...via.map((v) => `${v} (its route in)`)].slice(0, 2).join(', ')}`);
  }
  evidence.push({
    sent: `the parsers of outside input, against ${fuzz.size} fast-check test files`,
    received:
      uncovered.length === 0
        ? `all ${covered.length} fuzzed: ${covered.slice(0, 6).join('; ')}${covered.length > 6 ? '; ...' : ''}`
        : `no fuzz target for ${uncovered.join(', ')}`,
    finding: uncovered.length > 0,
  });
  const local = PARSER_INVENTORY.filter((p) => p.input === 'local');
  evidence.push({
    sent: 'the parsers of local input',
    received: `${local.length}, each with its reason: ${local
      .slice(0, 4)
      .map((p) => `${p.name}: ${p.note}`)
      .join('; ')}; ...`,
  });
  return verdict(
    evidence,
    `every parser of outside input (${covered.length}) has a fuzz target, and every parser in the source is in the ` +
      `inventory`,
    (f) => `parsers without fuzzing or inventory: ${f.map((e) => e.received).join('; ')}`,
  );
}
