// Sign-up, login and the reset request answer the same for an address with an account and one
// without: byte for byte (status, headers but the date, body), and in time (medians of 50 tries
// each within 20%). A real cloud with a real SMTP server: the mail goes out after the answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { makeUnits, startTestSmtp, ApiClient, type TestSmtp, type ApiAnswer } from './support.ts';

const TRIES = 50;
const PASSWORD = 'marble falcon tundra 42 softly';
const KNOWN = 'known@example.com';

let smtp: TestSmtp;
let cloud: CloudService;
let source = 0;

before(async () => {
  smtp = await startTestSmtp();
  const made = await makeUnits('plug', 1);
  cloud = await startCloud({
    factoryDir: made.factoryDir,
    stateDir: join(made.work, 'cloud'),
    broker: { port: 0 },
    // Many tries at one address: the per-account ceiling is raised; each try comes from its own source.
    api: { port: 0, login: { sourceThreshold: 20, accountThreshold: 1_000 } },
    mail: { smtp: { host: '127.0.0.1', port: smtp.port, caPem: smtp.caPem, servername: 'localhost' } },
  });
  assert.equal((await fresh().register(KNOWN, PASSWORD)).status, 202);
});

after(async () => {
  await cloud?.close();
  await smtp?.close();
});

/** A client from a loopback address no other try used. */
function fresh(): ApiClient {
  source++;
  return new ApiClient(
    cloud.api.url,
    cloud.credentials.caCertPem,
    `127.0.${1 + Math.floor(source / 250)}.${source % 250}`,
  );
}

/** What must be identical: the status, every header but the date and the connection's, and the body. */
function shape(a: ApiAnswer): string {
  const headers = Object.entries(a.headers)
    .filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k))
    .sort(([x], [y]) => x.localeCompare(y));
  return JSON.stringify({ status: a.status, headers, body: a.body });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
}

/**
 * Pairs `known` and `unknown` tries (so drift in the machine's load hits both alike); checks
 * every answer is shaped the same and the medians are within 20%.
 */
async function compare(
  what: string,
  known: (i: number) => Promise<ApiAnswer>,
  unknown: (i: number) => Promise<ApiAnswer>,
): Promise<void> {
  const times: { known: number[]; unknown: number[] } = { known: [], unknown: [] };
  let expected: string | undefined;
  for (let i = 0; i < TRIES; i++) {
    const pair = [
      ['known', known],
      ['unknown', unknown],
    ] as const;
    // Which goes first changes at random, so nothing about the order favours one of them.
    for (const [kind, run] of Math.random() < 0.5 ? pair : [pair[1], pair[0]]) {
      const t0 = process.hrtime.bigint();
      const answer = await run(i);
      times[kind].push(Number(process.hrtime.bigint() - t0) / 1e6);
      // What happens after an answer (the mail) must not land in the next try's measurement.
      await new Promise((r) => setTimeout(r, 25));
      expected ??= shape(answer);
      assert.equal(shape(answer), expected, `${what}: try ${i} (${kind}) answered differently`);
    }
  }
  const [k, u] = [median(times.known), median(times.unknown)];
  const ratio = Math.max(k, u) / Math.min(k, u);
  console.log(`${what}: median ${k.toFixed(1)} ms (address with an account) vs ${u.toFixed(1)} ms (without)`);
  assert.ok(ratio <= 1.2, `${what}: medians ${k.toFixed(1)} and ${u.toFixed(1)} ms differ by more than 20%`);
}

test(
  'sign-up answers the same, in bytes and in time, for a taken address and a new one',
  { timeout: 120_000 },
  async () => {
    await compare(
      'sign-up',
      () => fresh().register(KNOWN, PASSWORD),
      (i) => fresh().register(`new-${i}@example.com`, PASSWORD),
    );
  },
);

test(
  'a failed login answers the same, in bytes and in time, for an account and for no account',
  { timeout: 120_000 },
  async () => {
    await compare(
      'login',
      (i) => fresh().login(KNOWN, `wrong guess ${i} of many`),
      (i) => fresh().login('nobody@example.com', `wrong guess ${i} of many`),
    );
  },
);

test(
  'a reset request answers the same, in bytes and in time, for an account and for no account',
  { timeout: 60_000 },
  async () => {
    const ask = (email: string): Promise<ApiAnswer> => fresh().send('POST', '/v1/password-resets', { json: { email } });
    await compare(
      'reset request',
      () => ask(KNOWN),
      () => ask('nobody@example.com'),
    );
  },
);
