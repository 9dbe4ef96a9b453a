/**
 * Sizes as users write them (`1048576`, `"64KB"`, `10MB`, `1.5GiB`) and back
 * again for display, for the log files' `maxBytes`.
 *
 * `KB`, `MB` and `GB` are powers of 1000 and `KiB`, `MiB` and `GiB` powers
 * of 1024, as the SI and the IEC write them (and as `ls --si` and `ls -h`
 * show them); `B` is a byte. Units are spelled exactly so: `mb` or `M`
 * would leave a reader guessing which of the two is meant, so they are
 * refused with a did-you-mean instead.
 *
 * Pure and dependency-free, like `duration.ts`.
 *
 * @module
 */

/** Bytes in one of each unit a size may carry. */
const UNIT_BYTES: Readonly<Record<string, bigint>> = Object.freeze({
  B: 1n,
  KB: 1000n,
  MB: 1000n ** 2n,
  GB: 1000n ** 3n,
  KiB: 1024n,
  MiB: 1024n ** 2n,
  GiB: 1024n ** 3n,
});

/** The units, in the order messages list them. */
export const SIZE_UNITS: readonly string[] = Object.keys(UNIT_BYTES);

// A sign (so "-5MB" gets "must not be negative"), a decimal number without
// exponent, an optional space, and whatever letters follow (checked apart,
// for a better message than "malformed").
const SIZE_PATTERN = /^([+-]?)(\d+)(?:\.(\d*))?(?: ?([A-Za-z]+))?$/;

const MALFORMED =
  "must be a number of bytes, or a number with a unit: KB, MB, GB (powers of 1000) " +
  "or KiB, MiB, GiB (powers of 1024), like 10MB";

const UNITS_HINT = "use KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)";

/**
 * Reads a size and returns it in bytes.
 *
 * Accepts a non-negative whole number of bytes, or a string: a decimal
 * number and an optional unit, with at most one space between
 * (`"10MB"`, `"1.5 GiB"`, `"4096"`). A fraction with a unit is rounded down
 * to a whole byte, computed exactly (no floating-point error). The messages
 * have no subject, so callers prefix what was read.
 *
 * @example
 * ```ts
 * import { parseSize } from "./size.ts";
 * parseSize(4096); // 4096
 * parseSize("64KB"); // 64000
 * parseSize("64KiB"); // 65536
 * parseSize("1.5MB"); // 1500000
 * ```
 *
 * @param value The raw value, from YAML.
 * @returns The size in bytes, a safe integer.
 * @throws {TypeError} When the value is neither a number nor a well-formed string.
 * @throws {RangeError} When the size is negative, fractional bytes, or too large.
 */
export function parseSize(value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError("must be finite");
    if (value < 0) throw new RangeError("must not be negative");
    if (!Number.isInteger(value)) {
      throw new RangeError(
        "must be a whole number of bytes (or a string with a unit, like 1.5MB)",
      );
    }
    if (!Number.isSafeInteger(value)) throw new RangeError(TOO_LARGE);
    return value === 0 ? 0 : value;
  }
  if (typeof value !== "string") throw new TypeError(MALFORMED);
  const match = SIZE_PATTERN.exec(value);
  if (match === null) throw new TypeError(MALFORMED);
  const [, sign, whole, fraction = "", unitText] = match;
  let unit = 1n;
  if (unitText !== undefined) {
    const bytes = UNIT_BYTES[unitText];
    if (bytes === undefined) throw new TypeError(unknownUnit(unitText));
    unit = bytes;
  } else if (fraction !== "") {
    throw new RangeError(
      "must be a whole number of bytes (or a number with a unit, like 1.5MB)",
    );
  }
  const scale = 10n ** BigInt(fraction.length);
  const bytes = (BigInt(whole!) * scale + BigInt(fraction || "0")) * unit / scale;
  if (sign === "-" && bytes > 0n) throw new RangeError("must not be negative");
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(TOO_LARGE);
  return Number(bytes);
}

const TOO_LARGE = `must be at most ${Number.MAX_SAFE_INTEGER} bytes`;

// "M" and "mb" name no unit: say which ones there are, and the likeliest.
function unknownUnit(text: string): string {
  const same = SIZE_UNITS.filter((u) => u.toLowerCase() === text.toLowerCase());
  const letter = text.length === 1 ? text.toUpperCase() : "";
  const guess = same.length > 0
    ? `did you mean "${same[0]}"?`
    : "KMG".includes(letter) && letter !== ""
    ? `did you mean "${letter}B" or "${letter}iB"?`
    : undefined;
  return `unknown unit "${text}"${guess ? ` (${guess})` : ""}; ${UNITS_HINT}`;
}

/**
 * Formats a size the way a user would write it: in the largest unit that
 * divides it exactly, decimal units first (`10MB`, `64KiB`), else bytes.
 *
 * @example
 * ```ts
 * import { formatSize } from "./size.ts";
 * formatSize(10_000_000); // "10MB"
 * formatSize(65536); // "64KiB"
 * formatSize(1234); // "1234 bytes"
 * formatSize(0); // "0"
 * ```
 */
export function formatSize(bytes: number): string {
  if (bytes === 0) return "0";
  for (const unit of ["GB", "GiB", "MB", "MiB", "KB", "KiB"]) {
    const size = Number(UNIT_BYTES[unit]!);
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} byte${bytes === 1 ? "" : "s"}`;
}
