// A device process for the clone test: connects to the broker with a unit's certificate and key
// (argv: url, a folder with ca-cert.pem, device-cert.pem and device-key.pem, serial) through
// mqtt.js, and reconnects every second when it loses the connection, as a real unit would. Ends
// on SIGTERM.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';

const [url, dir, serial] = process.argv.slice(2) as [string, string, string];
const file = (name: string): string => readFileSync(join(dir, name), 'utf8');
const client = mqtt.connect(url, {
  ca: file('ca-cert.pem'),
  cert: file('device-cert.pem'),
  key: file('device-key.pem'),
  clientId: serial,
  protocolVersion: 4,
  reconnectPeriod: 1_000,
  connectTimeout: 5_000,
});
client.on('connect', () => client.subscribe(`devices/${serial}/commands`, { qos: 1 }));
client.on('error', () => undefined); // refusals are expected; it keeps retrying
process.once('SIGTERM', () => client.end(true, () => process.exit(0)));
