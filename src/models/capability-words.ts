/**
 * A capability in the owner's words, the same on the device's page, the hub's and the owner app's: its display name
 * (the model's `name`, else the id made readable), its value with the model's unit, a label per action and the
 * sentence after an action. Pure: each surface passes what it holds of the capability, and the value it knows.
 *
 * @example
 * const power = { id: 'power', name: 'Power', kind: 'switch' };
 * actionLabel(power, 'on'); // 'Turn on'
 * afterAction(power, 'on', true); // 'Power is now on.'
 * valueInWords({ id: 'energy', kind: 'reading', unit: 'W' }, 12); // '12 W'
 */

/**
 * What the words need of a capability. The model's Capability (the hub's, from the device's model document; the
 * cloud's, from the unit's manifest), the device dashboard's view and a bare `{ id }` (a capability the model does
 * not name) all fit.
 */
export interface CapabilityWordsSource {
  readonly id: string;
  /** The model's display name, e.g. 'Energy use'. */
  readonly name?: string | undefined;
  /** 'switch', 'level', 'lock', 'reading', 'snapshot', or unknown. */
  readonly kind?: string | undefined;
  /** The model's unit, e.g. 'W', '%', '°C'. */
  readonly unit?: string | undefined;
}

/** What a page shows for a value it does not have. */
export const NO_VALUE = '—';

/** Longest text value shown as it is; longer ones are cut (a driver's string can be long). */
const MAX_SHOWN_TEXT = 64;

/** Button labels of the actions the models use; any other action is its name made readable. */
const ACTION_LABELS: Readonly<Record<string, string>> = {
  on: 'Turn on',
  off: 'Turn off',
  toggle: 'Switch over',
  lock: 'Lock',
  unlock: 'Unlock',
  open: 'Open',
  close: 'Close',
  start: 'Start',
  stop: 'Stop',
  set: 'Set',
  get: 'Read now',
};

/** What an action did, for the sentence after it when the device gave no value back. */
const ACTION_DONE: Readonly<Record<string, string>> = {
  on: 'turned on',
  off: 'turned off',
  toggle: 'switched over',
  lock: 'locked',
  unlock: 'unlocked',
  open: 'opened',
  close: 'closed',
  start: 'started',
  stop: 'stopped',
  set: 'set',
  get: 'read',
};

/** 'set-target' -> 'Set target': the first letter capitalised, dashes as spaces. */
function readable(word: string): string {
  const spaced = word.replace(/-+/g, ' ').trim();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** The name the owner sees: the model's `name`, else the id readable ('air-quality' -> 'Air quality'). */
export function capabilityName(c: CapabilityWordsSource): string {
  return c.name !== undefined && c.name.trim() !== '' ? c.name : readable(c.id);
}

/** A number as people write it: at most two decimals, no trailing zeros, never '-0'. */
function numberText(n: number): string {
  const rounded = Math.round(n * 100) / 100;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/** '12 W', '45%', '21.5°C': percent and degrees follow the number directly, other units after a space. */
function withUnit(n: number, unit: string | undefined): string {
  if (!unit) return numberText(n);
  return /^[%°]/.test(unit) ? `${numberText(n)}${unit}` : `${numberText(n)} ${unit}`;
}

/** A model's enum value ('locked', 'half-open') or a plain lower-case phrase: shown as words, capitalised. */
const WORDS = /^[a-z][a-z0-9 -]*$/;

function textValue(c: CapabilityWordsSource, v: string): string {
  if (v.length > MAX_SHOWN_TEXT) return c.kind === 'snapshot' ? 'Picture ready' : `${v.slice(0, MAX_SHOWN_TEXT)}…`;
  // Any other text (a driver's own) is shown as given: its capitals may mean something.
  return WORDS.test(v) ? readable(v) : v;
}

/**
 * The value as the owner reads it: a switch 'On' / 'Off', an enum value in words ('Locked'), a number with the
 * model's unit ('12 W'), and NO_VALUE ('—') when there is none.
 */
export function valueInWords(c: CapabilityWordsSource, value: unknown): string {
  if (value === undefined || value === null) return NO_VALUE;
  if (typeof value === 'boolean') return value ? 'On' : 'Off';
  if (typeof value === 'number') return Number.isFinite(value) ? withUnit(value, c.unit) : NO_VALUE;
  if (typeof value === 'string') return value === '' ? NO_VALUE : textValue(c, value);
  const json = JSON.stringify(value) ?? '';
  return json.length > MAX_SHOWN_TEXT ? `${json.slice(0, MAX_SHOWN_TEXT)}…` : json;
}

/** The button's label for `action`: 'Turn on', 'Switch over' (toggle), 'Take a snapshot'; else the action readable. */
export function actionLabel(c: CapabilityWordsSource, action: string): string {
  if (c.kind === 'snapshot' && (action === 'get' || action === 'snapshot')) return 'Take a snapshot';
  return Object.hasOwn(ACTION_LABELS, action) ? ACTION_LABELS[action]! : readable(action);
}

/** The button's accessible name, stable and unique on a device: 'Power: Turn on'. */
export function actionAccessibleName(c: CapabilityWordsSource, action: string): string {
  return `${capabilityName(c)}: ${actionLabel(c, action)}`;
}

/**
 * The sentence after `action`, from the value the device answered: 'Power is now on.', 'Brightness is now 40%.',
 * 'Bolt: locked.'; without a value, what was done ('Power: turned on.').
 */
export function afterAction(c: CapabilityWordsSource, action: string, value?: unknown): string {
  const name = capabilityName(c);
  if (c.kind === 'snapshot' && value !== undefined && value !== null) return `${name}: picture taken.`;
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))
    return `${name} is now ${lowerFirst(valueInWords(c, value))}.`;
  if (typeof value === 'string' && value !== '') {
    const words = valueInWords(c, value);
    return `${name}: ${WORDS.test(value) ? lowerFirst(words) : words}.`;
  }
  const done = Object.hasOwn(ACTION_DONE, action) ? ACTION_DONE[action]! : `${lowerFirst(readable(action))} done`;
  return `${name}: ${done}.`;
}
