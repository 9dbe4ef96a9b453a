/**
 * Help and first-run polish: every command has its own help, every help
 * line fits 80 columns, `-v` is a version flag, and tend's first log line
 * names tend once.
 */

import assert from "node:assert/strict";
import { CLIENT_COMMANDS, COMMAND_HELP } from "../../lib/cli/commands.ts";
import { HELP, HELP_WIDTH, VERSION } from "../../lib/cli/help.ts";
import { CLIENT_OPTIONS_HELP } from "../../lib/cli/remote.ts";
import { tempDir, tend, tendOnce } from "../_fakes/tend.ts";

const run = tendOnce;

Deno.test("every help text keeps its lines within 80 columns", () => {
  const texts: [string, string][] = [
    ["tend --help", HELP],
    ["the client options", CLIENT_OPTIONS_HELP],
    ...Object.entries(COMMAND_HELP).map(([name, text]) =>
      [`tend ${name} --help`, text] as [string, string]
    ),
  ];
  for (const [what, text] of texts) {
    for (const line of text.split("\n")) {
      assert.ok(
        [...line].length <= HELP_WIDTH,
        `${what}: a line of ${[...line].length} columns:\n${line}`,
      );
      assert.ok(!line.includes("\t"), `${what}: a tab`);
    }
  }
});

Deno.test("every command has a help of its own, starting with its usage", () => {
  const commands = [...Object.keys(CLIENT_COMMANDS), "run", "check", "schema"].sort();
  assert.deepEqual(Object.keys(COMMAND_HELP).sort(), commands);
  for (const [name, text] of Object.entries(COMMAND_HELP)) {
    assert.match(text, new RegExp(`^Usage: tend ${name}\\b`), name);
    assert.ok(text.endsWith("\n"), name);
    // The global help lists every command.
    assert.match(HELP, new RegExp(`^  tend ${name}\\b`, "m"), name);
  }
});

Deno.test("tend run --help, check --help and schema --help print their own help, as tend help COMMAND does", async () => {
  for (const name of ["run", "check", "schema"]) {
    const asked = await run([name, "--help"]);
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal(asked.stdout, COMMAND_HELP[name], name);
    const short = await run([name, "-h"]);
    assert.equal(short.stdout, COMMAND_HELP[name], `${name} -h`);
  }
  const logs = await run(["help", "logs"]);
  assert.equal(logs.stdout, COMMAND_HELP.logs);
  const global = await run(["help"]);
  assert.equal(global.stdout, HELP);
  const unknown = await run(["help", "nope"]);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /^tend: no command "nope" to show the help of\n/);
});

Deno.test("-v, -V and --version print the version", async () => {
  for (const flag of ["-v", "-V", "--version"]) {
    const asked = await run([flag]);
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal(asked.stdout, `tend ${VERSION}\n`, flag);
  }
});

Deno.test("the first log line names tend once, in text and in JSON", async () => {
  await using dir = await tempDir();
  for (const format of ["text", "json"]) {
    await using t = tend([
      "run",
      "--log-format",
      format,
      "--restart",
      "never",
      "--",
      "true",
    ], {
      cwd: dir.path,
    });
    assert.equal(await t.exit(), 0, t.transcript());
    const first = t.lines[0]!;
    const message = format === "json" ? JSON.parse(first).message : first.slice(13);
    assert.match(
      message,
      new RegExp(
        `^tend ${
          VERSION.replaceAll(".", "\\.")
        }: starting 1 process from \\(command line\\) \\(pid \\d+\\)$`,
      ),
      first,
    );
  }
});
