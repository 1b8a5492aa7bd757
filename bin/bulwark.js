#!/usr/bin/env node
// The `bulwark` command: the built JavaScript when present (published package), else the
// TypeScript source through Node's type stripping (a checkout). Errors are printed by
// src/cli/main.ts as one line with a code, never with a stack, and exit with the error table's code.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `bulwark: needs Node.js 24 or later (this is ${process.version}); run it as \`npx bulwark\` ` +
      'in the project, which uses the Node 24 that `npm ci` installs.\n',
  );
  process.exit(1);
}

const built = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
const useBuilt = existsSync(built) && !existsSync(source);
const entry = useBuilt ? built : source;
let cli;
try {
  // A long-running service (`hub run`, `cloud run`) replaces this process with one that has the
  // agent's memory bounds, before the CLI and its dependencies are loaded for nothing.
  const runtime = new URL(
    useBuilt ? '../dist/cli/service-runtime.js' : '../src/cli/service-runtime.ts',
    import.meta.url,
  );
  const { relaunchAsService } = await import(runtime.href);
  relaunchAsService(fileURLToPath(import.meta.url), process.argv.slice(2));
  cli = await import(entry.href);
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`bulwark: error INTERNAL: cannot load the command: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}
// An error no command caught (a long-running service failing later) ends the process the same way.
const fatal = (err) => {
  process.exitCode = cli.reportError(err) || 1;
  process.exit();
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
process.exitCode = await cli.main(process.argv.slice(2));
