/** os/signals.ts's own table of signal numbers is node:os's, on this system. */

import assert from "node:assert/strict";
import { constants } from "node:os";
import { SIGNALS } from "../../lib/core/signals.ts";
import { signalNumber } from "../../lib/os/signals.ts";

Deno.test("every signal tend knows has the number node:os gives it here", () => {
  const numbers = constants.signals as Record<string, number>;
  for (const name of [...SIGNALS, "SIGPWR", "SIGSTKFLT"] as const) {
    assert.equal(signalNumber(name as never), numbers[name] ?? 0, name);
  }
});
