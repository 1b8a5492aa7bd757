/**
 * The bounds every listening surface puts on who may hold its connections. One typed object with
 * safe defaults; a surface loosens only what its clients need (a broker's devices share NAT
 * addresses, so its per-source cap applies to connections not yet authenticated).
 */
import { integerSettings } from '../errors/index.ts';

/** Per-source fairness and record-keeping for one listening socket. Times in ms. */
export interface AdmissionConfig {
  /** Most connections open at once, from all sources. */
  readonly maxConnections: number;
  /** Most connections one source (an IPv4 address, or an IPv6 /64) may hold open. */
  readonly maxConnectionsPerSource: number;
  /** Most connections one source may hold that are not yet past their handshake and headers. */
  readonly maxPendingPerSource: number;
  /** A connection must be past its handshake and headers this long after it was accepted, ms. */
  readonly pendingDeadlineMs: number;
  /** The window over which one source's connection records are counted, ms. */
  readonly floodWindowMs: number;
  /** Records one source writes one by one in a window; the rest become one summary entry. */
  readonly floodThreshold: number;
  /** Most sources counted at once; beyond it the quietest are summarised early. */
  readonly maxTrackedSources: number;
}

/** The secure default for an HTTPS page: 16 per source, 4 of them pending, 10 s to be past the headers. */
export const defaultAdmissionConfig: Readonly<AdmissionConfig> = Object.freeze({
  maxConnections: 128,
  maxConnectionsPerSource: 16,
  maxPendingPerSource: 4,
  pendingDeadlineMs: 10_000,
  floodWindowMs: 60_000,
  floodThreshold: 64,
  maxTrackedSources: 1_024,
});

const int = integerSettings('ADMISSION_CONFIG_INVALID');

/** Validates a (partial) config against the defaults; refuses bounds that would disable fairness. */
export function validateAdmissionConfig(config: Partial<AdmissionConfig> = {}): AdmissionConfig {
  const m = { ...defaultAdmissionConfig, ...config };
  const maxConnections = int('maxConnections', m.maxConnections, 1, 1_000_000);
  const maxConnectionsPerSource = int('maxConnectionsPerSource', m.maxConnectionsPerSource, 1, maxConnections);
  // A source must never be able to hold every slot with connections that have proved nothing.
  const pendingCeiling = Math.max(1, Math.min(maxConnectionsPerSource, Math.floor(maxConnections / 2)));
  const maxPendingPerSource = int('maxPendingPerSource', m.maxPendingPerSource, 1, pendingCeiling);
  const pendingDeadlineMs = int('pendingDeadlineMs', m.pendingDeadlineMs, 100, 120_000);
  const floodWindowMs = int('floodWindowMs', m.floodWindowMs, 1_000, 3_600_000);
  const floodThreshold = int('floodThreshold', m.floodThreshold, 1, 10_000);
  const maxTrackedSources = int('maxTrackedSources', m.maxTrackedSources, 1, 1_000_000);
  return Object.freeze({
    maxConnections,
    maxConnectionsPerSource,
    maxPendingPerSource,
    pendingDeadlineMs,
    floodWindowMs,
    floodThreshold,
    maxTrackedSources,
  });
}
