/**
 * The root of every error Bulwark throws on purpose. Each subclass carries a stable string
 * `code`, so the CLI, HTTP handlers and the auditor map errors without parsing messages.
 * Messages never contain secrets. What a code means for HTTP and the CLI is in ./table.ts.
 */
export {
  BulwarkError,
  ConfigError,
  InvalidInputError,
  hasCode,
  requireIntegerSetting,
  integerSettings,
} from './bulwark-error.ts';
export { type ErrorCode, ERROR_TABLE, EXIT, type ErrorRule, type ExitCode } from './codes.ts';
export {
  UNKNOWN_CODE_RULE,
  SYSTEM_ERROR_EXITS,
  httpStatusOf,
  exitCodeOf,
  isCallerFault,
  ruleOf,
  codeOf,
} from './table.ts';
