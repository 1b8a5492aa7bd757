#!/usr/bin/env node
// The `bulwark` command: the built JavaScript when present (published package), else the
// TypeScript source through Node's type stripping (a checkout).
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`bulwark: needs Node.js 24 or later (this is ${process.version}); run it as \`npx bulwark\` in the project, which uses the Node 24 that \`npm ci\` installs.\n`);
  process.exit(1);
}

const built = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(built) && !existsSync(source) ? built : source;
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
