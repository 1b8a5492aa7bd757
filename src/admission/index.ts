/**
 * Admission: what every listening socket does before its protocol. Per-source caps on open and
 * unfinished connections with fair eviction, a total deadline for the handshake and headers, and
 * a record of every connection attempt captured at accept time, summarised per source under a
 * flood. Used by the HTTPS surfaces, the hub channel port and the broker.
 */
export { defaultAdmissionConfig, validateAdmissionConfig } from './config.ts';
export type { AdmissionConfig } from './config.ts';
export { AdmissionTable } from './table.ts';
export type { AdmissionDecision, AdmissionRefusal } from './table.ts';
export { guardServer } from './guard.ts';
export type { Admission, AdmissionRecord, EstablishOn, GuardOptions } from './guard.ts';
export type { AdmissionErrorCode } from './errors.ts';
