/**
 * Reads a JSON-lines file from its end backwards, one line at a time, so loading keeps only the
 * newest entries and its memory is bounded by one chunk plus one line, whatever the file's size.
 */
import type { FileHandle } from 'node:fs/promises';

/** Bounds of one backward scan, bytes. */
export interface BackwardScanLimits {
  /** Bytes read per call. */
  readonly chunkBytes: number;
  /** A longer line is skipped as corrupt without being held in memory. */
  readonly maxLineBytes: number;
  /** The scan stops after reading this many bytes from the end. */
  readonly maxScanBytes: number;
}

/** What a scan saw. */
export interface BackwardScanResult {
  /** Lines longer than maxLineBytes, skipped. */
  readonly overlongLines: number;
  /** True when the scan read back to the first byte (not stopped by the callback or by maxScanBytes). */
  readonly reachedStart: boolean;
  /** True when the file ended with a newline (or was empty): the last append was whole. */
  readonly endsWithNewline: boolean;
}

const NEWLINE = 0x0a;

/**
 * Calls `onLine` with every line of the file, newest (last) first, including an empty one after
 * the final newline and a partial one when the file was cut mid-line. `onLine` returns false to
 * stop. Line buffers are only valid during the call.
 */
export async function scanLinesBackward(
  handle: FileHandle,
  size: number,
  limits: BackwardScanLimits,
  onLine: (line: Buffer) => boolean,
): Promise<BackwardScanResult> {
  const chunk = Buffer.allocUnsafe(limits.chunkBytes);
  let carry: Buffer[] = []; // the start of the current line, read later than the bytes before it
  let carryBytes = 0;
  let overlong = false;
  let overlongLines = 0;
  let endsWithNewline = size === 0;
  let pos = size;

  const emit = (part: Buffer): boolean => {
    if (overlong || part.length + carryBytes > limits.maxLineBytes) {
      overlongLines++;
      overlong = false;
      carry = [];
      carryBytes = 0;
      return true;
    }
    const line = carry.length === 0 ? part : Buffer.concat([part, ...carry]);
    carry = [];
    carryBytes = 0;
    return onLine(line);
  };

  while (pos > 0) {
    if (size - pos >= limits.maxScanBytes) return { overlongLines, reachedStart: false, endsWithNewline };
    const len = Math.min(limits.chunkBytes, pos);
    pos -= len;
    let got = 0;
    while (got < len) {
      const { bytesRead } = await handle.read(chunk, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < len) chunk.fill(0, got, len); // the file shrank under us: treat the gap as garbage
    if (pos + len === size) endsWithNewline = chunk[len - 1] === NEWLINE;
    let end = len;
    for (let i = len - 1; i >= 0; i--) {
      if (chunk[i] !== NEWLINE) continue;
      if (!emit(chunk.subarray(i + 1, end))) return { overlongLines, reachedStart: false, endsWithNewline };
      end = i;
    }
    if (end > 0 && !overlong) {
      if (carryBytes + end > limits.maxLineBytes) {
        overlong = true;
        carry = [];
        carryBytes = 0;
      } else {
        carry.unshift(Buffer.from(chunk.subarray(0, end)));
        carryBytes += end;
      }
    }
  }
  emit(Buffer.alloc(0));
  return { overlongLines, reachedStart: true, endsWithNewline };
}
