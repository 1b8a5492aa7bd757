// Baseline for the agent's start-up and idle memory: a bare node:https server on the same key
// (plain JavaScript, so it pays no type-stripping cost the built agent does not pay either).
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';

const [keyPath, certPath] = process.argv.slice(2);
const server = createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) }, (_req, res) => {
  res.end('ok');
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'listening', webPort: server.address().port }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
