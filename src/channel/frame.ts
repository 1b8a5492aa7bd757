/**
 * Length-prefixed frames: a 4-byte big-endian body length, then the body (UTF-8 JSON).
 * Pure: bytes in, frames out. The decoder checks a declared length against the limit as soon
 * as the 4 length bytes are in, before it keeps a single byte of the body, so its buffer never
 * holds more than 4 + maxFrameBytes bytes.
 */
import { CHANNEL_CONFIG_BOUNDS, defaultChannelConfig } from './config.ts';
import { ChannelConfigError, ChannelFrameError } from './errors.ts';

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

function checkMaxFrameBytes(maxFrameBytes: number): number {
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > CHANNEL_CONFIG_BOUNDS.maxFrameBytes) {
    throw new ChannelConfigError(
      'maxFrameBytes',
      `must be an integer from 1 to ${CHANNEL_CONFIG_BOUNDS.maxFrameBytes}`,
    );
  }
  return maxFrameBytes;
}

function tooLarge(length: number, maxFrameBytes: number): ChannelFrameError {
  return new ChannelFrameError(
    'CHANNEL_FRAME_TOO_LARGE',
    `frame of ${length} bytes exceeds the limit of ${maxFrameBytes}`,
    { length, maxFrameBytes },
  );
}

/** Prefixes `body` with its length. Throws 'CHANNEL_FRAME_TOO_LARGE' above `maxFrameBytes`. */
export function encodeFrame(body: Uint8Array, maxFrameBytes: number = defaultChannelConfig.maxFrameBytes): Buffer {
  checkMaxFrameBytes(maxFrameBytes);
  if (body.length > maxFrameBytes) throw tooLarge(body.length, maxFrameBytes);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Reassembles frames from chunks of any size, split anywhere.
 *
 * @example
 * const decoder = new FrameDecoder({ maxFrameBytes: 65_536 });
 * socket.on('data', (chunk) => { for (const body of decoder.push(chunk)) handle(body); });
 */
export class FrameDecoder {
  /** Largest body accepted, bytes. */
  readonly maxFrameBytes: number;
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerFill = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;
  #failure: ChannelFrameError | undefined;

  constructor(options: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = checkMaxFrameBytes(options.maxFrameBytes ?? defaultChannelConfig.maxFrameBytes);
  }

  /** Bytes held for an incomplete frame, the body's whole allocation included (at most 4 + maxFrameBytes). */
  get bufferedBytes(): number {
    return this.#headerFill + (this.#body?.length ?? 0);
  }

  /** Whether the decoder refused a frame; a failed decoder refuses every later push. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Takes the next chunk and returns the bodies it completed, in order. Throws
   * 'CHANNEL_FRAME_TOO_LARGE' at a declared length above the limit; the decoder then drops
   * what it held and stays failed (frames completed earlier in the same chunk are dropped too:
   * the stream is not trusted past that point).
   */
  push(chunk: Uint8Array): Buffer[] {
    if (this.#failure)
      throw new ChannelFrameError('CHANNEL_DECODER_FAILED', 'the decoder already refused this stream', {
        cause: this.#failure.code,
      });
    const frames: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#body === undefined) {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - offset);
        this.#header.set(chunk.subarray(offset, offset + take), this.#headerFill);
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill < FRAME_HEADER_BYTES) break;
        this.#headerFill = 0;
        const length = this.#header.readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          this.#failure = tooLarge(length, this.maxFrameBytes);
          throw this.#failure;
        }
        if (length === 0) {
          frames.push(Buffer.alloc(0));
          continue;
        }
        this.#body = Buffer.allocUnsafe(length);
        this.#bodyFill = 0;
      } else {
        const take = Math.min(this.#body.length - this.#bodyFill, chunk.length - offset);
        this.#body.set(chunk.subarray(offset, offset + take), this.#bodyFill);
        this.#bodyFill += take;
        offset += take;
        if (this.#bodyFill === this.#body.length) {
          frames.push(this.#body);
          this.#body = undefined;
          this.#bodyFill = 0;
        }
      }
    }
    return frames;
  }
}
