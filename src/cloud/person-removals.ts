/**
 * Household removals on the owner's devices: the owner removed a person in the cloud, so each of the owner's devices
 * removes the person of that name from its own page (the command PERSON_REMOVAL, which the device passes on to its
 * paired hubs). A device that is offline, or does not answer, keeps the removal in the store and is sent it when its
 * presence says it is back; a device that has another owner by then is not.
 */
import { PERSON_REMOVAL } from '../cloudprotocol/index.ts';
import type { CommandCenter } from './commands.ts';
import type { CloudStore } from './store.ts';

/** What a household removal did on the owner's devices: those that removed the person, those not reached yet. */
export interface DeviceRemovals {
  readonly removed: string[];
  readonly unreachable: string[];
}

/** Sends household removals to devices, now or when they are back. */
export class PersonRemovals {
  readonly #store: CloudStore;
  readonly #commands: CommandCenter;
  readonly #log: (line: string) => void;
  // One delivery per device at a time: a device that flaps online must not be sent the same removal twice at once.
  readonly #delivering = new Set<string>();

  constructor(o: { store: CloudStore; commands: CommandCenter; log?: (line: string) => void }) {
    this.#store = o.store;
    this.#commands = o.commands;
    this.#log = o.log ?? (() => undefined);
  }

  /**
   * Tells each of `ownerId`'s devices that `name` was removed; an offline device or one that does not answer keeps it
   * for later. Resolves with the devices that removed someone of that name and those not reached yet.
   */
  async send(ownerId: string, name: string): Promise<DeviceRemovals> {
    const removed: string[] = [];
    const unreachable: string[] = [];
    await Promise.all(
      (await this.#store.listDevices(ownerId)).map(async (d) => {
        const answer = d.online ? await this.#tell(d.serial, ownerId, name) : 'unreached';
        if (answer === 'removed') removed.push(d.serial);
        if (answer !== 'unreached') return;
        unreachable.push(d.serial);
        await this.#store.addPendingRemoval({ serial: d.serial, name, ownerId, createdAt: Date.now() });
      }),
    );
    return { removed: removed.sort(), unreachable: unreachable.sort() };
  }

  /** `serial` is back online: the removals it missed are sent, each forgotten once the device has answered. */
  async deliverPending(serial: string): Promise<void> {
    if (this.#delivering.has(serial)) return;
    this.#delivering.add(serial);
    try {
      for (const r of await this.#store.pendingRemovals(serial)) {
        const device = await this.#store.getDevice(serial);
        if (device?.ownerId !== r.ownerId) {
          await this.#store.dropPendingRemoval(serial, r.name); // released or claimed by another since
          continue;
        }
        const answer = await this.#tell(serial, r.ownerId, r.name);
        if (answer === 'unreached') return; // gone again: tried at its next presence
        await this.#store.dropPendingRemoval(serial, r.name);
        this.#log(`household removal delivered to ${serial} once it was back (${answer})`);
      }
    } finally {
      this.#delivering.delete(serial);
    }
  }

  /** Sends one removal (recorded as the owner's command); an older device that takes none counts as answered. */
  async #tell(serial: string, ownerId: string, name: string): Promise<'removed' | 'nobody' | 'unreached'> {
    try {
      const c = await this.#commands.send(serial, ownerId, PERSON_REMOVAL.capability, PERSON_REMOVAL.action, name);
      if (c.status !== 'done') return c.result?.error?.code === 'COMMAND_NOT_ALLOWED' ? 'nobody' : 'unreached';
      return c.result?.value === true ? 'removed' : 'nobody';
    } catch {
      return 'unreached';
    }
  }
}
