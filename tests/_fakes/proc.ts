/**
 * Test helpers that look at real processes with `ps` (Linux and macOS).
 *
 * They use `ps` rather than tend's own group checks, so the tests do not
 * grade tend's code with itself.
 *
 * @module
 */

async function ps(): Promise<string | null> {
  try {
    const out = await new Deno.Command("ps", {
      args: ["-A", "-o", "pid=,pgid=,stat="],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** Why process-tree tests cannot run here, or null when they can. */
export const NO_PS: string | null = (await ps()) === null
  ? "needs `ps` to inspect process groups, and it is not installed"
  : null;

/** The pids of live (not zombie) processes whose process group is `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const line of (await ps() ?? "").split("\n")) {
    const [pid, group, stat] = line.trim().split(/\s+/);
    if (stat && !stat.startsWith("Z") && Number(group) === pgid) pids.push(Number(pid));
  }
  return pids;
}

/** Resolves once `test()` is true, checking every 10 ms; rejects after `timeoutMs`. */
export async function eventually(
  what: string,
  test: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Options for a test that runs only when `reason` is null; otherwise the
 * test is ignored and its name says why.
 */
export function only(
  name: string,
  reason: string | null,
): { name: string; ignore: boolean } {
  return reason === null
    ? { name, ignore: false }
    : { name: `${name} (skipped: ${reason})`, ignore: true };
}
