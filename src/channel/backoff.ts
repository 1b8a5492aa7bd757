/** Jittered exponential back-off for reconnects. Pure: the random draw is passed in. */
import type { ChannelConfig } from './config.ts';

/**
 * The delay before reconnect attempt `attempt` (0 for the first), ms: `reconnectBaseMs`
 * doubled per attempt, capped at `reconnectMaxMs`, then up to `reconnectJitter` of it taken off
 * at random so that many clients of one restarted server do not come back in step.
 *
 * @example
 * setTimeout(connect, reconnectDelay(attempt, config, Math.random()));
 */
export function reconnectDelay(
  attempt: number,
  config: Pick<ChannelConfig, 'reconnectBaseMs' | 'reconnectMaxMs' | 'reconnectJitter'>,
  random: number,
): number {
  const doublings = Math.max(0, Math.min(Math.floor(attempt), 40));
  const ceiling = Math.min(config.reconnectMaxMs, config.reconnectBaseMs * 2 ** doublings);
  const draw = Math.min(Math.max(random, 0), 1);
  return Math.round(ceiling * (1 - config.reconnectJitter * draw));
}
