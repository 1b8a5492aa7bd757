/**
 * Storage: durable files (atomic writes, durable staging folders) and the versioned state files
 * built on them, which never brick a unit (docs/recovery.md).
 */
export * from './durable-file.ts';
export * from './state-file.ts';
