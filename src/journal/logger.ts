/**
 * A small structured logger for operational logs: one JSON object per line on stderr, every
 * string passed through the journal's redactor, every secret-named field replaced whole.
 */
import { ConfigError } from '../errors/index.ts';
import { REDACTED, isSecretKey, redactSecrets, truncateText } from './redact.ts';

/** Log levels, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Bounds on what one log line may carry. */
export const LOG_LIMITS = Object.freeze({
  /** Longest string kept, characters. */
  maxStringChars: 2_000,
  /** Deepest nesting of fields kept. */
  maxDepth: 4,
  /** Most keys or array items kept per object. */
  maxItems: 50,
});

/** Options of {@link createLogger}; none is needed. */
export interface LoggerOptions {
  /** The least severe level written. Default: BULWARK_LOG_LEVEL, else 'info'. */
  readonly level?: LogLevel;
  /** True in production, where 'debug' is raised to 'info'. Default: NODE_ENV === 'production'. */
  readonly production?: boolean;
  /** Where lines go. Default: process.stderr. */
  readonly write?: (line: string) => void;
  /** The clock, ms since the epoch. */
  readonly now?: () => number;
}

/** Structured fields of one log line. Keys 'time', 'level', 'name' and 'msg' are reserved. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A named logger. */
export interface Logger {
  readonly name: string;
  /** The least severe level this logger writes. */
  readonly level: LogLevel;
  /** True when a line at `level` would be written (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RESERVED = new Set(['time', 'level', 'name', 'msg']);
const NAME_PATTERN = /^[a-z][a-z0-9.-]{0,31}$/;

function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

function cleanString(text: string): string {
  return truncateText(redactSecrets(text), LOG_LIMITS.maxStringChars);
}

function cleanValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return cleanString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined; // functions, symbols, undefined
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  // Raw bytes are never logged: they are as likely a key as anything else.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, ...(typeof code === 'string' ? { code } : {}), message: cleanString(value.message) };
  }
  if (depth >= LOG_LIMITS.maxDepth) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, LOG_LIMITS.maxItems).map((v) => cleanValue(v, depth + 1) ?? null);
  return cleanFields(value as Record<string, unknown>, depth + 1);
}

function cleanFields(fields: Readonly<Record<string, unknown>>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(fields).slice(0, LOG_LIMITS.maxItems)) {
    if (depth === 0 && RESERVED.has(key)) continue;
    out[key] = isSecretKey(key) ? REDACTED : cleanValue(fields[key], depth);
  }
  return out;
}

/**
 * Creates a logger writing JSON lines such as
 * `{"time":"…","level":"warn","name":"web","msg":"login refused","source":"192.0.2.7:53412"}`
 * to stderr. Writing never throws.
 *
 * @example const log = createLogger('web'); log.info('listening', { port: 8443 });
 * @throws ConfigError with code 'LOGGER_CONFIG_INVALID' for a bad name or level
 */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ConfigError(
      'LOGGER_CONFIG_INVALID',
      'name',
      'must be lower-case letters, digits, dots or dashes, at most 32 characters',
    );
  }
  if (options.level !== undefined && !isLogLevel(options.level)) {
    throw new ConfigError('LOGGER_CONFIG_INVALID', 'level', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const fromEnv = process.env.BULWARK_LOG_LEVEL;
  const production = options.production ?? process.env.NODE_ENV === 'production';
  let level: LogLevel = options.level ?? (isLogLevel(fromEnv) ? fromEnv : 'info');
  if (production && level === 'debug') level = 'info';
  const threshold = LOG_LEVELS.indexOf(level);
  const write =
    options.write ??
    ((line: string) => {
      process.stderr.write(line);
    });
  const now = options.now ?? Date.now;

  const log = (at: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    try {
      const record = {
        time: new Date(now()).toISOString(),
        level: at,
        name,
        msg: cleanString(String(msg)),
        ...(fields ? cleanFields(fields, 0) : {}),
      };
      write(JSON.stringify(record) + '\n');
    } catch {
      // A log line is never worth a crash.
    }
  };

  return Object.freeze({
    name,
    level,
    enabled: (at: LogLevel) => LOG_LEVELS.indexOf(at) >= threshold,
    debug: (msg: string, fields?: LogFields) => log('debug', msg, fields),
    info: (msg: string, fields?: LogFields) => log('info', msg, fields),
    warn: (msg: string, fields?: LogFields) => log('warn', msg, fields),
    error: (msg: string, fields?: LogFields) => log('error', msg, fields),
  });
}
