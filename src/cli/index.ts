/** The CLI's public API for other folders: its error codes. */
export type { CliErrorCode } from './errors.ts';
