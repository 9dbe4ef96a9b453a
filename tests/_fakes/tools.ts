/**
 * Tests that drive real tools (promtool, a Prometheus server, chromium):
 * where a tool is missing such a test must not pass quietly. Under CI
 * (`CI` set, as `.ci/run` sets it) it runs and fails saying what to
 * install; elsewhere it is ignored, with the reason in its name, so that
 * the summary shows it.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The path of `command` on PATH, or null. */
export async function which(command: string): Promise<string | null> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", 'command -v "$1"', "sh", command],
      stdout: "piped",
      stderr: "null",
    }).output();
    const path = new TextDecoder().decode(out.stdout).trim();
    return out.success && path !== "" ? path : null;
  } catch {
    return null;
  }
}

/** Whether this is a CI run, where every tool must be there. */
export const IN_CI: boolean = (() => {
  try {
    const value = Deno.env.get("CI");
    return value !== undefined && value !== "" && value !== "0" && value !== "false";
  } catch {
    return false;
  }
})();

/**
 * A test definition for a test that needs a tool: `missing` is null when
 * the tool is there, else what to install. Outside CI a test with a
 * missing tool is ignored and says why; under CI it runs, and
 * {@linkcode assertTool} fails it.
 */
export function needs(
  name: string,
  missing: string | null,
): { name: string; ignore: boolean } {
  if (missing === null) return { name, ignore: false };
  return IN_CI
    ? { name: `${name} (missing: ${missing})`, ignore: false }
    : { name: `${name} (skipped: ${missing}; it fails under CI)`, ignore: true };
}

/** Fails the test when its tool is missing (see {@linkcode needs}). */
export function assertTool(missing: string | null): void {
  if (missing !== null) {
    assert.fail(`this test needs a tool that is missing: ${missing}`);
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
