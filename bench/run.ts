/**
 * `npm run bench`: runs the benchmarks one after another (the machine has 2 cores; running
 * them together would measure contention) and writes reports/bench.json and bench.html.
 * `npm run bench -- provision` runs only the named ones; `npm run bench -- memory` is RSS under an
 * unauthenticated flood (bench/memory-flood.ts); `npm run bench -- peers` is matter.js and HAP-NodeJS side by side
 * (bench/peers.bench.ts).
 */
import { cpus, totalmem } from 'node:os';
import { benchProvision } from './provision.bench.ts';
import { benchWeb } from './web.bench.ts';
import { benchChannel } from './channel.bench.ts';
import { benchHub } from './hub.bench.ts';
import { benchUpdate } from './update.bench.ts';
import { benchCloud } from './cloud.bench.ts';
import { benchMemoryFlood } from './memory-flood.ts';
import { benchPeers } from './peers.bench.ts';
import { writeBenchReports, ratioOf, meetsGoal, aheadOf, type BenchResult } from './report.ts';

const log = (s: string): void => {
  process.stderr.write(s + '\n');
};
const BENCHES: Record<string, () => Promise<BenchResult>> = {
  provision: () => benchProvision(1000, log),
  web: () => benchWeb(log),
  channel: () => benchChannel(log),
  hub: () => benchHub(log),
  update: () => benchUpdate(log),
  cloud: () => benchCloud(log),
  memory: () => benchMemoryFlood(log),
  peers: () => benchPeers(log),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const results: BenchResult[] = [];
for (const [id, run] of Object.entries(BENCHES)) {
  if (wanted.length && !wanted.includes(id)) continue;
  log(`bench ${id}...`);
  const r = await run();
  results.push(r);
  for (const m of r.metrics) {
    const ratio = ratioOf(m);
    const met = meetsGoal(m);
    const goal = met === undefined ? '' : ` goal ${met ? 'met' : 'missed'}`;
    const ahead = aheadOf(m);
    const base = m.baseline
      ? ` (baseline ${m.baseline.name}: ${m.baseline.value.toFixed(2)}; ratio ${ratio?.toFixed(2)}x` +
        `${ahead ? `, ${ahead === 'even' ? 'even' : `${ahead} ahead`}` : ''})`
      : m.unavailable
        ? ` (${m.unavailable.name} not measured: ${m.unavailable.reason})`
        : '';
    log(`  ${m.name}: ${m.value.toFixed(2)} ${m.unit}${base}${goal}`);
  }
}
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
  memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
};
await writeBenchReports('reports', results, meta);
log('reports written: reports/bench.json, reports/bench.html');
