/**
 * The embedded broker as a process of its own, so it can have a core to itself while the cloud
 * service (store, API) runs in another, and so its memory and CPU can be measured alone (the
 * benchmark runs it so). Imports the broker only, nothing else of the cloud.
 *
 * argv[2]: a JSON file with `caCertPem`, `certPem`, `keyPem` and optional `config`
 * (EmbeddedBrokerConfig). Prints one JSON line `{"event":"listening","port":N}` when ready (its
 * starter's protocol, kept as it is); stops on SIGTERM or SIGINT. Everything else it says goes to stderr
 * as JSON lines with `at`, `level` and `msg` or `event`, like `bulwark cloud run --log-format json`: only a
 * program starts it.
 */
import { readFile } from 'node:fs/promises';
import { startEmbeddedBroker, type EmbeddedBrokerConfig } from './broker.ts';

/** One log line on stderr. */
function log(level: 'info' | 'error', fields: { msg: string } | { event: string; [k: string]: unknown }): void {
  process.stderr.write(JSON.stringify({ at: new Date().toISOString(), level, ...fields }) + '\n');
}

const file = process.argv[2];
if (!file) {
  log('error', { msg: 'usage: broker-main <settings.json>' });
  process.exit(64);
}
const o = JSON.parse(await readFile(file, 'utf8')) as {
  caCertPem: string;
  certPem: string;
  keyPem: string;
  config?: Partial<EmbeddedBrokerConfig>;
};
let refusals = 0;
const broker = await startEmbeddedBroker({
  caCertPem: o.caCertPem,
  certPem: o.certPem,
  keyPem: o.keyPem,
  config: o.config ?? {},
  onRefusal: (reason, detail) => {
    if (refusals++ < 100) log('info', { msg: `broker refused (${reason}): ${detail}` });
  },
});
process.stdout.write(JSON.stringify({ event: 'listening', port: broker.port }) + '\n');
// BULWARK_BROKER_STATS=<ms>: a line of counters on stderr that often (for profiling).
const every = Number(process.env.BULWARK_BROKER_STATS ?? 0);
if (every >= 100) {
  setInterval(() => {
    const b = broker.backlog();
    const rssMiB = Math.round(process.memoryUsage.rss() / 1_048_576);
    log('info', { event: 'stats', clients: broker.connectedClients(), queued: b.queued, held: b.held, rssMiB });
  }, every).unref();
}
const stop = (): void => {
  broker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
