/**
 * An SDK product's own boot, as the auditor takes it (`unitBoot` of runAudit and auditRunningDevice): the auditor hands
 * it the agent's start, pointed at a state folder and ports of the auditor's own, and it starts its agent with that
 * start and does what the product does at power-on (unit-launch.ts). Types only.
 */
import type { DeviceAgent, DeviceAgentConfig } from '../device/index.ts';

/** The agent's start as the auditor hands it to a product's boot. */
export type AgentStart = (config: Partial<DeviceAgentConfig>) => Promise<DeviceAgent>;

/**
 * A product's own boot: starts its agent with `start` (never `startDeviceAgent` directly) and does what the product
 * does at power-on, reaching the unit's state only through the agent it is handed (the auditor's copy); resolves with
 * the running agent.
 *
 * @example
 *   const boot: UnitBoot = (start) => start({ journal: { maxAgeDays: 14 }, hub: { pairing: { windowMs: 120_000 } } });
 */
export type UnitBoot = (start: AgentStart) => Promise<DeviceAgent>;
