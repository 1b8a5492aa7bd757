/**
 * Per-unit secrets printed on the sticker: admin password, setup code, claim code, and the
 * serial number. All come from the OS CSPRNG; none is derived from another or from the serial.
 */
import { randomBytes, randomInt, createHash } from 'node:crypto';

/**
 * 32 symbols with the look-alikes 0, O, 1 and l (and o) removed, so each symbol is exactly
 * 5 bits: a byte's low 5 bits index it with no modulo bias.
 */
export const READABLE_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

function readableSymbols(count: number): string {
  const bytes = randomBytes(count);
  let out = '';
  for (const b of bytes) out += READABLE_ALPHABET[b & 31];
  return out;
}

function groups(text: string, size: number): string {
  return text.match(new RegExp(`.{1,${size}}`, 'g'))!.join('-');
}

/** Bits of entropy in a generated admin password. */
export const ADMIN_PASSWORD_BITS = 80;
/** Bits of entropy in a generated claim code. */
export const CLAIM_CODE_BITS = 80;

/** A random admin password: 16 readable symbols (80 bits) in groups of four, e.g. 'k7vq-3mxe-9bht-p2wa'. */
export function generateAdminPassword(): string {
  return groups(readableSymbols(ADMIN_PASSWORD_BITS / 5), 4);
}

/** A random claim code: 16 readable symbols (80 bits), upper case to tell it from the password. */
export function generateClaimCode(): string {
  return groups(readableSymbols(CLAIM_CODE_BITS / 5).toUpperCase(), 4);
}

/** Canonical form of a claim code as typed by a person: no separators, upper case. */
export function normaliseClaimCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}

/** The hash of a claim code that the cloud stores (the code has 80 bits, so a plain salted SHA-256 suffices). */
export function hashClaimCode(serial: string, code: string): string {
  return (
    'sha256:' +
    createHash('sha256')
      .update(`bulwark-claim-v1\0${serial}\0${normaliseClaimCode(code)}`)
      .digest('hex')
  );
}

/** Luhn check digit over a string of decimal digits, so a typo is caught before it costs a pairing attempt. */
export function luhnCheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when a 12-digit setup code (separators allowed) has a valid check digit. */
export function isWellFormedSetupCode(code: string): boolean {
  const digits = normaliseSetupCode(code);
  return /^\d{12}$/.test(digits) && luhnCheckDigit(digits.slice(0, 11)) === Number(digits[11]);
}

/** Canonical form of a setup code: digits only. */
export function normaliseSetupCode(code: string): string {
  return code.replace(/[\s-]/g, '');
}

/** Codes a person might guess first; never issued (as Matter forbids 11111111 and 12345678). */
function isTrivialDigits(digits: string): boolean {
  if (/^(\d)\1+$/.test(digits)) return true;
  const asc = '0123456789012345678901',
    desc = '9876543210987654321098';
  return asc.includes(digits) || desc.includes(digits);
}

/** A random setup code: 11 random digits (36.5 bits) plus a Luhn check digit, as 'dddd-dddd-dddd'. */
export function generateSetupCode(): string {
  let body: string;
  do body = String(randomInt(0, 100_000_000_000)).padStart(11, '0');
  while (isTrivialDigits(body));
  return groups(body + String(luhnCheckDigit(body)), 4);
}

/** A serial number: model prefix plus 10 random readable symbols (50 bits), e.g. 'PLG-K7VQ3MXE9B'. */
export function generateSerial(prefix: string): string {
  return `${prefix}-${readableSymbols(10).toUpperCase()}`;
}

/** Shape every serial must have (checked wherever a serial arrives from outside). */
export const SERIAL_PATTERN = /^[A-Z]{3}-[A-Z2-9]{10}$/;
