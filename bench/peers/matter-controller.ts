/**
 * A matter.js controller as its own process, driven by the peers bench over stdin and stdout, one JSON line each way
 * (issue 20, part 5). bench/peers/install.ts writes it into the matter.js install as JavaScript; it runs as
 * `node matter-controller.mjs`, with the lights' passcode in BULWARK_PEER_PASSCODE and its storage in
 * MATTER_STORAGE_PATH. Requests:
 * - `{"op":"commission","port":5541,"discriminator":123}`: commissions the light at 127.0.0.1:port (PASE with the
 *   passcode, the commissioning steps, then CASE and CommissioningComplete over it) and answers the time it took.
 * - `{"op":"case","count":100,"rounds":10}`: establishes `count` CASE sessions with the last light commissioned, full
 *   (its resumption record deleted first) and resumed, in alternating rounds, each closed before the next.
 * - `{"op":"quit"}`.
 * Every answer is `{"op":...,"ok":true,...}` or `{"op":...,"ok":false,"error":"..."}`.
 */
import { createInterface } from 'node:readline';
import { installLoopbackGuard } from './loopback-guard.ts';

/** The parts of matter.js this runner uses; the packages come from the peer's install, not the project. */
interface MatterControllerModules {
  readonly Environment: { readonly default: unknown };
  readonly CommissioningController: new (options: Record<string, unknown>) => CommissioningController;
  readonly GeneralCommissioning: { readonly RegulatoryLocationType: { readonly IndoorOutdoor: number } };
  readonly PeerSet: unknown;
  readonly SessionManager: unknown;
}

interface CommissioningController {
  start(): Promise<void>;
  close(): Promise<void>;
  commissionNode(node: Record<string, unknown>, options: Record<string, unknown>): Promise<bigint>;
  readonly fabric: { addressOf(nodeId: bigint): unknown };
  readonly node: { readonly env: { get<T>(type: unknown): T } };
}

interface MatterPeer {
  connect(): Promise<{ readonly id: number }>;
}

interface MatterSessions {
  sessionsFor(address: unknown): Array<{ initiateClose(): Promise<void> }>;
  deleteResumptionRecord(address: unknown): Promise<boolean>;
  findResumptionRecordByAddress(address: unknown): unknown;
}

/** One kind of establishment: cycles per second (connect until closed) and per second until usable. */
interface CaseRates {
  rate: number;
  usableRate: number;
  /** Distinct session ids seen: a reused session would show fewer than the count. */
  distinct: number;
  /** Establishments that began with a resumption record at hand (so offered resumption in Sigma1). */
  offeredResumption: number;
}

// Specifiers in variables: the packages resolve from the install this file is written into, not from the project.
const SPECIFIERS = [
  '@matter/main',
  '@project-chip/matter.js',
  '@matter/main/clusters/general-commissioning',
  '@matter/main/protocol',
];

const passcode = Number(process.env.BULWARK_PEER_PASSCODE);
const guard = installLoopbackGuard();
const loaded = (await Promise.all(SPECIFIERS.map((s) => import(s)))) as object[];
const modules = Object.assign({}, ...loaded) as MatterControllerModules;
const controller = new modules.CommissioningController({
  environment: { environment: modules.Environment.default, id: 'bulwark-bench-controller' },
  autoConnect: false,
  adminFabricLabel: 'Bulwark bench',
  listeningAddressIpv4: '127.0.0.1',
  listeningAddressIpv6: '::1',
});
await controller.start();
let lastNode: bigint | undefined;

async function commission(port: number, discriminator: number): Promise<Record<string, unknown>> {
  const t = performance.now();
  lastNode = await controller.commissionNode(
    {
      commissioning: {
        regulatoryLocation: modules.GeneralCommissioning.RegulatoryLocationType.IndoorOutdoor,
        regulatoryCountryCode: 'XX',
      },
      // The known address: PASE goes straight there, and the operational CASE finds the light at the same address.
      discovery: {
        knownAddress: { ip: '127.0.0.1', port, type: 'udp' },
        identifierData: { longDiscriminator: discriminator },
        discoveryCapabilities: { onIpNetwork: true },
      },
      passcode,
    },
    // Commissioning ends at CommissioningComplete over CASE; no attribute read or subscription after it.
    { connectNodeAfterCommissioning: false },
  );
  return { ms: performance.now() - t, node: String(lastNode) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `n` establishments of one kind; returns the round's rates and the session ids seen. */
async function caseRound(
  resume: boolean,
  n: number,
  seen: { ids: Set<number>; offered: number },
): Promise<{ rate: number; usable: number }> {
  if (lastNode === undefined) throw new Error('no light commissioned yet');
  const env = controller.node.env;
  const address = controller.fabric.addressOf(lastNode);
  const peer = env.get<{ get(a: unknown): MatterPeer | undefined }>(modules.PeerSet).get(address);
  const sessions = env.get<MatterSessions>(modules.SessionManager);
  if (!peer) throw new Error('the commissioned light is not among the controller peers');
  let usableMs = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    for (const s of sessions.sessionsFor(address)) await s.initiateClose();
    if (!resume) await sessions.deleteResumptionRecord(address);
    if (sessions.findResumptionRecordByAddress(address) !== undefined) seen.offered++;
    const t = performance.now();
    const session = await peer.connect();
    usableMs += performance.now() - t;
    seen.ids.add(session.id);
  }
  for (const s of sessions.sessionsFor(address)) await s.initiateClose();
  return { rate: n / ((performance.now() - start) / 1_000), usable: n / (usableMs / 1_000) };
}

async function caseRates(count: number, rounds: number): Promise<Record<string, CaseRates>> {
  const perRound = { full: { rate: [] as number[], usable: [] as number[] }, resumed: { rate: [], usable: [] } };
  const seen = { full: { ids: new Set<number>(), offered: 0 }, resumed: { ids: new Set<number>(), offered: 0 } };
  const size = Math.ceil(count / rounds);
  for (let done = 0, r = 0; done < count; done += size, r++) {
    const n = Math.min(size, count - done);
    for (const kind of r % 2 === 0 ? (['full', 'resumed'] as const) : (['resumed', 'full'] as const)) {
      const got = await caseRound(kind === 'resumed', n, seen[kind]);
      (perRound[kind].rate as number[]).push(got.rate);
      (perRound[kind].usable as number[]).push(got.usable);
    }
  }
  const rates = (kind: 'full' | 'resumed'): CaseRates => ({
    rate: median(perRound[kind].rate),
    usableRate: median(perRound[kind].usable),
    distinct: seen[kind].ids.size,
    offeredResumption: seen[kind].offered,
  });
  return { full: rates('full'), resumed: rates('resumed') };
}

const answer = (line: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(line) + '\n');
};

async function handle(request: {
  op?: string;
  port?: number;
  discriminator?: number;
  count?: number;
  rounds?: number;
}) {
  if (request.op === 'commission') return commission(Number(request.port), Number(request.discriminator));
  if (request.op === 'case') return caseRates(Number(request.count), Number(request.rounds));
  if (request.op === 'quit') {
    await controller.close();
    answer({ op: 'quit', ok: true });
    process.exit(0);
  }
  throw new Error(`unknown op ${request.op}`);
}

// One request at a time, in order: the bench waits for each answer before it sends the next.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  queue = queue.then(async () => {
    const request = JSON.parse(line) as { op?: string };
    try {
      answer({ op: request.op, ok: true, ...(await handle(request)) });
    } catch (err) {
      answer({ op: request.op, ok: false, error: (err as Error).message.split('\n')[0] });
    }
  });
});
// The bench gone (stdin closed) ends the controller too, so it never outlives the run.
lines.on('close', () => {
  void queue.then(() => controller.close()).finally(() => process.exit(0));
});
answer({ ready: true, guard });
