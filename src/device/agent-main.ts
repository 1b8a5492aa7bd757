/**
 * The agent process's entry point, started by the supervisor (`bulwark device run`) with its
 * settings in argv. It prints one JSON line `{"event":"listening",...}` on stdout when ready.
 *
 * The agent (agent-process.ts) boots with V8's optimising compilers paused. Loading its ~50
 * modules makes Node's module resolver (path and URL helpers) hot, and the first optimised
 * compiles page the compilers' own code into memory: ~2 MiB for Maglev, ~7 MiB more when the
 * install path is long enough for TurboFan to step in (e.g. under /usr/local/lib/node_modules),
 * all for code that runs only at boot. They are switched back on once the agent has reported
 * healthy, so the code that serves requests is optimised as usual. A compiler turned off on the
 * command line stays off.
 */
const v8 = process.getBuiltinModule('node:v8');
const paused = process.execArgv.includes('--jitless') ? [] : ['maglev', 'opt'].filter((flag) => !process.execArgv.some((a) => a.replaceAll('_', '-') === `--no-${flag}`));
for (const flag of paused) v8.setFlagsFromString(`--no-${flag}`);
try {
  await import('./agent-process.ts');
} finally {
  for (const flag of paused) v8.setFlagsFromString(`--${flag}`);
}
