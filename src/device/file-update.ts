/**
 * `bulwark device update --file`: installs an update file on a unit whose agent is stopped (a unit
 * that never reaches the internet, updated by hand). The checks are the updater's own, from the
 * unit's pinned root; the decision goes to the unit's journal; the unit boots the new image on
 * trial at its next start. A running agent installs files from its admin page instead: two
 * writers of one state folder are refused.
 */
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { readDeviceBundle } from '../bundle/index.ts';
import {
  readBootState,
  startUpdater,
  UpdateRefusedError,
  UpdateStateError,
  type CheckOutcome,
  type UpdateRefusalCode,
} from '../update/index.ts';
import { privacyClassFor } from '../journal/index.ts';
import { openJournal } from './journal-bridge.ts';
import { BUTTON_SOCKET } from './button.ts';

/** Whether an agent answers on the state folder's button socket. */
function agentRunning(stateDir: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(join(stateDir, BUTTON_SOCKET));
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(true); // something holds the socket: do not write beside it
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Options of {@link installUpdateFile}. */
export interface InstallUpdateFileOptions {
  readonly bundleDir: string;
  readonly stateDir: string;
  readonly file: string;
  readonly log?: (msg: string) => void;
}

/**
 * Installs `file` into the unit's inactive slot and switches its boot state to it (on trial).
 * @throws UpdateStateError 'UPDATE_BUSY' when an agent runs on the state folder
 */
export async function installUpdateFile(o: InstallUpdateFileOptions): Promise<CheckOutcome> {
  if (await agentRunning(o.stateDir))
    throw new UpdateStateError(
      'UPDATE_BUSY',
      'a device agent is running on this state folder: install the file from its admin page, or stop it first',
    );
  const bundle = await readDeviceBundle(o.bundleDir);
  const journal = await openJournal(o.stateDir, privacyClassFor(bundle.model), o.log);
  try {
    const slot = (await readBootState(o.stateDir)).state.active;
    // No repository and no restart hook: nothing is fetched, and the new image boots at the next start.
    const updater = await startUpdater({
      stateDir: o.stateDir,
      bundle,
      journal,
      slot,
      ...(o.log ? { log: o.log } : {}),
    });
    try {
      return await updater.installFile(o.file);
    } finally {
      await updater.close();
    }
  } finally {
    await journal.close();
  }
}

/**
 * What an update-file install did, for people; a refusal or failure throws with its code, so the exit
 * status follows the error table.
 */
export function describeFileInstall(r: CheckOutcome): string {
  if (r.outcome === 'installed')
    return `installed ${r.version ?? ''}: the unit boots it on trial at its next start (the journal has the decision)`;
  if (r.outcome === 'up-to-date') return `the unit already runs ${r.version ?? 'this version'}; nothing changed`;
  if (r.outcome === 'refused')
    throw new UpdateRefusedError(r.code as UpdateRefusalCode, `update file refused: ${r.detail ?? ''}`.trimEnd());
  if (r.outcome === 'waiting-for-health')
    throw new UpdateStateError('UPDATE_BUSY', 'the last update has not reported healthy yet: start the unit first');
  throw new UpdateStateError('UPDATE_STATE_INVALID', `the update file was not installed: ${r.detail ?? r.outcome}`);
}
