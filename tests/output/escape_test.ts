/**
 * Escapes: bad bytes and JSON's special characters, written into room
 * reserved for them.
 */

import assert from "node:assert/strict";
import {
  escapeJsonInto,
  escapeUtf8Into,
  JSON_GROWTH,
  TEXT_GROWTH,
} from "../../lib/output/escape.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("escapes stay within the promised room for the worst input", () => {
  // Every byte escaped: invalid bytes take four bytes each, control
  // characters six in JSON.
  const worst = new Uint8Array(4096).map((_, i) => i % 2 ? 0xff : 0x01);
  const controls = new Uint8Array(4096).fill(0x01);
  const json = new Uint8Array(JSON_GROWTH * controls.length);
  assert.equal(
    escapeJsonInto(controls, 0, controls.length, true, json, 0),
    JSON_GROWTH * controls.length,
  );
  const bad = new Uint8Array(4096).fill(0xff);
  const utf8 = new Uint8Array(TEXT_GROWTH * bad.length);
  assert.equal(escapeUtf8Into(bad, 0, bad.length, utf8, 0), TEXT_GROWTH * bad.length);
  // (escapeUtf8Into keeps control characters: only bad bytes grow.)
  assert.equal(escapeUtf8Into(worst, 0, worst.length, utf8, 0), 4 * 2048 + 2048);
});

Deno.test("JSON escapes: bad bytes as \\xNN, control characters the JSON way", () => {
  const src = new Uint8Array([
    0x22,
    0x5c,
    0x0a,
    0x09,
    0x0d,
    0x01,
    0xff,
    ...enc.encode("é\u2028"),
  ]);
  const out = new Uint8Array(JSON_GROWTH * src.length);
  const end = escapeJsonInto(src, 0, src.length, false, out, 0);
  assert.equal(
    JSON.parse(`"${dec.decode(out.subarray(0, end))}"`),
    '"\\\n\t\r\x01\\xffé\u2028',
  );
});
