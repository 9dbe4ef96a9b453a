/**
 * SHA-256 (FIPS 180-4) of a string's UTF-8 bytes, as lowercase hex:
 * synchronous, pure, and without `node:crypto`, whose import would make
 * Deno set up its Node-compatibility layer in every `tend run` (memory
 * for one hash of a path; see `core/path.ts`). `crypto.subtle.digest`
 * would do, but it is asynchronous and the socket's path is worked out
 * synchronously. Not for secrets: it is not constant-time.
 *
 * This module is pure and imports nothing.
 *
 * @module
 */

// The first 32 bits of the fractional parts of the square roots of the
// first 8 primes (the initial hash) and of the cube roots of the first 64
// (the round constants), as FIPS 180-4 defines them; a double has bits
// enough for both.
const PRIMES: number[] = [];
for (let n = 2; PRIMES.length < 64; n++) {
  if (PRIMES.every((p) => n % p !== 0)) PRIMES.push(n);
}
const fraction = (x: number) => ((x - Math.floor(x)) * 0x1_0000_0000) >>> 0;
const H0 = PRIMES.slice(0, 8).map((p) => fraction(Math.sqrt(p)));
const K = new Uint32Array(PRIMES.map((p) => fraction(Math.cbrt(p))));

/**
 * The SHA-256 of `text` (encoded as UTF-8), in hex.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./sha256.ts";
 * sha256Hex("abc").slice(0, 8); // "ba7816bf"
 * ```
 */
export function sha256Hex(text: string): string {
  const data = new TextEncoder().encode(text);
  // The message, a 0x80 byte, zeros, and its length in bits (big-endian
  // 64-bit), padded to a whole number of 64-byte blocks.
  const blocks = Math.ceil((data.length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x1_0000_0000));
  view.setUint32(padded.length - 4, bits >>> 0);

  const h = new Uint32Array(H0);
  const w = new Uint32Array(64);
  for (let block = 0; block < blocks; block++) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block * 64 + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
    }
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!;
    let e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + s1 + ch + K[i]! + w[i]!) >>> 0;
      const s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (s0 + maj) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
  let hex = "";
  for (const word of h) hex += word.toString(16).padStart(8, "0");
  return hex;
}

function rotr(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}
