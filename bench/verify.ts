/**
 * Reading a supervisor's output after a run: which expected lines arrived
 * intact, where in the file they ended (so the sampler can tell when), and
 * how many lines hold only a piece of a payload.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * What one intact output line looks like for one child: it starts with
 * `prefix`, ends with `suffix` (which contains the payload) and, when
 * `length` is not -1, is exactly that many bytes long.
 */
export interface Shape {
  prefix: Uint8Array;
  suffix: Uint8Array;
  length: number;
}

/** Builds a {@linkcode Shape} from text. */
export function shape(prefix: string, suffix: string, length = -1): Shape {
  return { prefix: encoder.encode(prefix), suffix: encoder.encode(suffix), length };
}

/** What {@linkcode scanLines} found in one file. */
export interface Scan {
  /** Per expected child: lines that arrived intact. */
  intact: number[];
  /** Per child: offset just past its first intact line, or -1. */
  firstEnd: number[];
  /** Per child: offset just past its last intact line, or -1. */
  lastEnd: number[];
  /** Lines that hold a piece of some payload but are not an intact line. */
  fragments: number;
  /** Offset just past the last line holding payload (intact or a piece), or -1. */
  lastPayloadEnd: number;
  /** Offset just past the first line holding payload, or -1. */
  firstPayloadEnd: number;
  /** Every line in the file. */
  lines: number;
}

function matches(buf: Uint8Array, start: number, end: number, s: Shape): boolean {
  const len = end - start;
  if (s.length >= 0 && len !== s.length) return false;
  const { prefix, suffix } = s;
  if (len < prefix.length + suffix.length) return false;
  // From the end: a line of another child fails on its last payload byte.
  for (let k = suffix.length - 1, i = end - 1; k >= 0; k--, i--) {
    if (buf[i] !== suffix[k]) return false;
  }
  for (let k = 0; k < prefix.length; k++) {
    if (buf[start + k] !== prefix[k]) return false;
  }
  return true;
}

// Whether buf[start..end) contains `run` consecutive copies of `byte`.
function hasRun(
  buf: Uint8Array,
  start: number,
  end: number,
  byte: number,
  run: number,
) {
  let n = 0;
  for (let i = start; i < end; i++) {
    if (buf[i] === byte) {
      if (++n >= run) return true;
    } else n = 0;
  }
  return false;
}

/**
 * Scans a file line by line. `shapes[i]` describes child i's intact line;
 * `markers` are the bytes payloads are made of: a line that is not intact
 * but holds three of one in a row is counted as a fragment (a split, cut
 * or merged line).
 */
export function scanLines(path: string, shapes: Shape[], markers: number[]): Scan {
  const result: Scan = {
    intact: shapes.map(() => 0),
    firstEnd: shapes.map(() => -1),
    lastEnd: shapes.map(() => -1),
    fragments: 0,
    lastPayloadEnd: -1,
    firstPayloadEnd: -1,
    lines: 0,
  };
  let buf: Uint8Array;
  try {
    buf = Deno.readFileSync(path);
  } catch {
    return result;
  }
  let pos = 0;
  let hint = 0; // the child whose line came last: most often the next one too
  while (pos < buf.length) {
    let nl = buf.indexOf(0x0a, pos);
    if (nl === -1) nl = buf.length;
    const end = nl + 1 > buf.length ? buf.length : nl + 1;
    result.lines++;
    let which = -1;
    for (let k = 0; k < shapes.length; k++) {
      const i = (hint + k) % shapes.length;
      if (matches(buf, pos, nl, shapes[i]!)) {
        which = i;
        break;
      }
    }
    if (which >= 0) {
      hint = which;
      result.intact[which]!++;
      if (result.firstEnd[which] === -1) result.firstEnd[which] = end;
      result.lastEnd[which] = end;
      if (result.firstPayloadEnd === -1) result.firstPayloadEnd = end;
      result.lastPayloadEnd = end;
    } else if (markers.some((m) => hasRun(buf, pos, nl, m, 3))) {
      result.fragments++;
      if (result.firstPayloadEnd === -1) result.firstPayloadEnd = end;
      result.lastPayloadEnd = end;
    }
    pos = nl + 1;
  }
  return result;
}

/** What {@linkcode countByte} found. */
export interface ByteCount {
  /** Occurrences of the byte. */
  count: number;
  /** Offset just past the last occurrence, or -1. */
  lastEnd: number;
  /** Lines (newline-terminated or not) holding at least one occurrence. */
  lines: number;
}

/** Counts one byte value in a file, streaming (for files of gigabytes). */
export function countByte(path: string, byte: number): ByteCount {
  const result: ByteCount = { count: 0, lastEnd: -1, lines: 0 };
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch {
    return result;
  }
  try {
    const buf = new Uint8Array(8 * 1024 * 1024);
    let offset = 0;
    let lineHas = false;
    while (true) {
      const n = file.readSync(buf);
      if (n === null || n === 0) break;
      let count = 0;
      let last = -1;
      for (let i = 0; i < n; i++) {
        const b = buf[i];
        if (b === byte) {
          count++;
          last = i;
          lineHas = true;
        } else if (b === 0x0a) {
          if (lineHas) result.lines++;
          lineHas = false;
        }
      }
      result.count += count;
      if (last >= 0) result.lastEnd = offset + last + 1;
      offset += n;
    }
    if (lineHas) result.lines++;
  } finally {
    file.close();
  }
  return result;
}
