/**
 * How values become bytes in Redis and back. A codec never throws on decode: bytes it does not
 * recognise (another version's format, a truncated write) decode to undefined, a miss.
 */
export interface Codec<V> {
  encode(value: V): Buffer;
  decode(bytes: Buffer): V | undefined;
}

/** Plain JSON: small records such as budget state and cache pointers. */
export function jsonCodec<V>(): Codec<V> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    decode(bytes) {
      try {
        return JSON.parse(bytes.toString('utf8')) as V;
      } catch {
        return undefined;
      }
    },
  };
}

/** First byte of a framed value; a new layout takes a new number and old entries become misses. */
const FRAMED_V1 = 0x01;
/** Frame head: the format byte and the length of the JSON part (u32, big-endian). */
const HEAD_BYTES = 5;
/** Marks a Buffer's place in the JSON; the NUL keeps it from matching any key of real data. */
const SLOT = '\u0000buf';

/**
 * JSON with its `Buffer`s carried as raw bytes, for entries that hold finished answers as
 * bytes (a cache entry: metadata plus the body to send): base64 would cost a third more
 * memory in Redis and a copy on every hit. Layout: format byte, u32 length of the JSON, the
 * JSON (each Buffer replaced by `{"\u0000buf":[offset,length]}`), then the buffers back to back.
 * Decoded Buffers are views of the bytes read from Redis, not copies.
 */
export function framedCodec<V>(): Codec<V> {
  return {
    encode(value) {
      const buffers: Buffer[] = [];
      let offset = 0;
      const json = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
        // JSON.stringify hands `v` over after Buffer#toJSON; the holder still has the Buffer.
        const original = this[key];
        if (Buffer.isBuffer(original)) {
          buffers.push(original);
          const slot = { [SLOT]: [offset, original.length] };
          offset += original.length;
          return slot;
        }
        return v;
      });
      const text = Buffer.from(json, 'utf8');
      const head = Buffer.alloc(HEAD_BYTES);
      head.writeUInt8(FRAMED_V1, 0);
      head.writeUInt32BE(text.length, 1);
      return Buffer.concat([head, text, ...buffers]);
    },
    decode(bytes) {
      if (bytes.length < HEAD_BYTES || bytes.readUInt8(0) !== FRAMED_V1) return undefined;
      const jsonEnd = HEAD_BYTES + bytes.readUInt32BE(1);
      if (jsonEnd > bytes.length) return undefined;
      const body = bytes.subarray(jsonEnd);
      try {
        return JSON.parse(bytes.toString('utf8', HEAD_BYTES, jsonEnd), (_key, v: unknown) => {
          const slot = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[SLOT] : undefined;
          if (!Array.isArray(slot) || slot.length !== 2) return v;
          const [start, length] = slot as [number, number];
          if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > body.length) throw new RangeError('bad slot');
          return body.subarray(start, start + length);
        }) as V;
      } catch {
        return undefined;
      }
    },
  };
}
