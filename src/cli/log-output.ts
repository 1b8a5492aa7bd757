/**
 * What the long-running commands (`device run`, `hub run`, `cloud run`) print, in one format chosen by
 * `--log-format`: `text`, one readable line per event for a person, or `json`, one JSON object per line
 * (`at`, `level`, `event` or `msg`, and the event's fields) for a program or a log collector. Without the
 * option, text when stdout is a terminal and json otherwise. What a caller waits for (ready, update) goes
 * to stdout and logs to stderr, both in the same format: never text and JSON mixed. In json, `msg` holds
 * the line text would print, so a reader of either finds the same words.
 *
 * The device agent's JSON lines to its supervisor (its stdout) are a protocol between two programs and
 * never pass through here; its log lines (its stderr) are relayed with `relay`.
 *
 * @example
 * const out = await openLogOutput(chooseLogFormat(o.logFormat, process.stdout.isTTY === true));
 * out.event('ready', `hub ready: ${url}`, { url });
 * out.log('a device paired');
 */
import type { Command } from 'commander';
import { ConfigError } from '../errors/index.ts';
import type { LogLevel } from '../journal/index.ts';

/** The formats `--log-format` takes. */
export const LOG_FORMATS = ['text', 'json'] as const;
/** How a long-running command writes its lines. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Bounds on one line, whatever wrote it (a relayed line comes from another process). */
export const LOG_OUTPUT_LIMITS = Object.freeze({
  /** Longest message kept, characters; a longer one is cut. */
  maxMessageChars: 8_192,
  /** Most fields kept on one line, per object. */
  maxFields: 50,
  /** Deepest nesting of fields kept; deeper values are left out. */
  maxDepth: 4,
});

/** One line's content, before it is formatted. */
export interface LogRecord {
  readonly level: LogLevel;
  /** The sentence a person reads. */
  readonly msg: string;
  /** What happened, for a program to match on (`ready`, `update`); absent for a plain log line. */
  readonly event?: string;
  /** Which part said it, when not the command itself (`supervisor`, `agent`). */
  readonly source?: string;
  /** When, ISO 8601; absent: now. A relayed line keeps its writer's time. */
  readonly at?: string;
  /** The event's facts for a program; text shows a plain log line's fields as `key=value`. */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** How secret-looking field names are recognised and what replaces their values (src/journal's rule). */
export interface SecretFields {
  isSecretKey(key: string): boolean;
  readonly REDACTED: string;
}

/** Where the lines go, and the clock. */
export interface LogOutputOptions {
  readonly stdout?: { write(text: string): unknown };
  readonly stderr?: { write(text: string): unknown };
  readonly now?: () => Date;
}

/** The output of one long-running command. */
export interface LogOutput {
  readonly format: LogFormat;
  /** Something a caller may wait for (`ready`, `update`): one line on stdout; `msg` is the text line. */
  event(name: string, msg: string, fields?: Readonly<Record<string, unknown>>, level?: LogLevel): void;
  /** A log line on stderr. */
  log(msg: string, options?: { level?: LogLevel; source?: string; fields?: Readonly<Record<string, unknown>> }): void;
  /** A line another process wrote to its stderr (JSON or not), relayed on stderr in this format. */
  relay(line: string, source: string): void;
}

/** Keys a line's own parts use: a field of the same name never replaces them. */
const RESERVED = new Set(['at', 'time', 'level', 'event', 'source', 'msg']);
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** `--log-format`'s value, or a ConfigError 'USAGE' (exit 2) naming the option. */
export function logFormatArgument(value: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new ConfigError('USAGE', 'logFormat', `must be text or json, not ${JSON.stringify(value.slice(0, 40))}`);
}

/** The format to use: the one given, else text for a person at a terminal and json for anything else. */
export function chooseLogFormat(given: LogFormat | undefined, stdoutIsTTY: boolean): LogFormat {
  return given ?? (stdoutIsTTY ? 'text' : 'json');
}

/** Adds `--log-format text|json` to a long-running command; a bad value is refused while parsing. */
export function addLogFormatOption(command: Command): Command {
  return command.option(
    '--log-format <format>',
    'text (a line a person reads; the default on a terminal) or json (one JSON object a line; the default otherwise)',
    logFormatArgument,
  );
}

/** Text on one line without control characters (no terminal escapes from a relayed line), cut to the bound. */
function oneLine(text: string): string {
  const cut = text.length > LOG_OUTPUT_LIMITS.maxMessageChars;
  // eslint-disable-next-line no-control-regex -- control characters are what is taken out
  const flat = text.slice(0, LOG_OUTPUT_LIMITS.maxMessageChars).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return cut ? `${flat}…` : flat;
}

/** `value` with secret-named keys' values replaced at every depth, bounded in size; undefined: leave it out. */
function visible(value: unknown, secrets: SecretFields, depth: number): unknown {
  if (typeof value === 'string') return value.length > LOG_OUTPUT_LIMITS.maxMessageChars ? oneLine(value) : value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'boolean' || value === null) return value;
  if (typeof value !== 'object' || depth >= LOG_OUTPUT_LIMITS.maxDepth) return undefined;
  if (Array.isArray(value)) {
    return value.slice(0, LOG_OUTPUT_LIMITS.maxFields).map((v) => visible(v, secrets, depth + 1) ?? null);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, LOG_OUTPUT_LIMITS.maxFields)) {
    const shown = secrets.isSecretKey(k) ? secrets.REDACTED : visible(v, secrets, depth + 1);
    if (shown !== undefined) out[k] = shown;
  }
  return out;
}

/** A plain log line's fields as ` key=value` words (nested ones as `key.inner=value`). */
function fieldsText(fields: Readonly<Record<string, unknown>>, prefix = ''): string {
  let text = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v !== null && typeof v === 'object') text += fieldsText(v as Record<string, unknown>, `${prefix}${k}.`);
    else text += ` ${prefix}${k}=${String(v)}`;
  }
  return text;
}

/**
 * One line for `record`, ending in a newline. json: `{"at","level","event"?,"source"?,"msg",...fields}`,
 * with secret-named fields' values replaced; text: an event's message alone, and a log line as
 * `source: level: msg key=value...` (the level only when it is warn or error).
 */
export function formatLogLine(format: LogFormat, record: LogRecord, now: Date, secrets: SecretFields): string {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.fields ?? {})) if (!RESERVED.has(k)) fields[k] = v;
  const shown = visible(fields, secrets, 0) as Record<string, unknown>;
  if (format === 'json') {
    const line = {
      at: record.at ?? now.toISOString(),
      level: record.level,
      ...(record.event !== undefined ? { event: record.event } : {}),
      ...(record.source !== undefined ? { source: record.source } : {}),
      msg: oneLine(record.msg),
      ...shown,
    };
    return JSON.stringify(line) + '\n';
  }
  // An event's message is its whole line (callers match on it); its fields are the same facts for a program.
  if (record.event !== undefined) return oneLine(record.msg) + '\n';
  const source = record.source !== undefined ? `${record.source}: ` : '';
  const level = record.level === 'warn' || record.level === 'error' ? `${record.level}: ` : '';
  return oneLine(`${source}${level}${record.msg}${fieldsText(shown)}`) + '\n';
}

/**
 * What a line from another process's stderr says: a JSON object keeps its level, time, message and
 * fields (src/journal's logger writes `time`, the agent `at`); any other line (a fatal error, a crash
 * trace) is an error whose message is the line.
 */
export function relayedRecord(line: string, source: string): LogRecord {
  let parsed: unknown;
  try {
    parsed = line.startsWith('{') ? JSON.parse(line) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { level: 'error', source, msg: line };
  const o = parsed as Record<string, unknown>;
  const at = [o.at, o.time].find((t): t is string => typeof t === 'string' && ISO_TIME.test(t));
  return {
    level: typeof o.level === 'string' && LEVELS.has(o.level) ? (o.level as LogLevel) : 'info',
    msg: typeof o.msg === 'string' ? o.msg : '',
    source,
    ...(typeof o.event === 'string' ? { event: o.event } : {}),
    ...(at !== undefined ? { at } : {}),
    fields: o,
  };
}

/** The output of a command in `format`, with secret-named fields recognised by `secrets`. */
export function createLogOutput(format: LogFormat, secrets: SecretFields, options: LogOutputOptions = {}): LogOutput {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const line = (record: LogRecord): string => formatLogLine(format, record, now(), secrets);
  return {
    format,
    event(name, msg, fields, level = 'info') {
      stdout.write(line({ level, event: name, msg, ...(fields ? { fields } : {}) }));
    },
    log(msg, o = {}) {
      stderr.write(line({ ...o, level: o.level ?? 'info', msg }));
    },
    relay(text, source) {
      if (text.trim() === '') return;
      stderr.write(line(relayedRecord(text, source)));
    },
  };
}

/**
 * The output of a long-running command in `format`, secret-named fields hidden by src/journal's rule
 * (loaded here, with the service, rather than for every command the CLI parses).
 */
export async function openLogOutput(format: LogFormat, options: LogOutputOptions = {}): Promise<LogOutput> {
  const secrets = await import('../journal/index.ts');
  return createLogOutput(format, secrets, options);
}
