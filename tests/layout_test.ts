/**
 * The map of `lib/` stays true: every import runs the right way between
 * the layers, and only the layers allowed to touch the OS, print or exit
 * do so (see ../shared/ARCHITECTURE.md and the README's Layout).
 *
 * main.ts -> cli -> control -> supervisor -> config, output, os -> core
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const LIB = fileURLToPath(new URL("../lib", import.meta.url));

type Layer = "core" | "config" | "output" | "os" | "supervisor" | "control" | "cli";

/** Which layers each layer may import (besides itself). */
const MAY_IMPORT: Readonly<Record<Layer, readonly Layer[]>> = {
  core: [],
  config: ["core"],
  output: ["core"],
  os: ["core"],
  supervisor: ["config", "output", "os", "core"],
  control: ["supervisor", "config", "output", "os", "core"],
  cli: ["control", "supervisor", "config", "output", "os", "core"],
};

/** Calls that reach the OS (processes, signals, FFI): `os/` only. */
const OS_CALLS = [
  "Deno.Command",
  "Deno.kill",
  "Deno.dlopen",
  "Deno.addSignalListener",
  "Deno.removeSignalListener",
  "process.kill",
].map((name) => [name, new RegExp(`\\b${name.replace(".", "\\.")}\\b`)] as const);

/** Printing and exiting: `cli/` only (and main.ts, outside lib/). */
const CONSOLE_CALLS = ["console", "Deno.stdout", "Deno.stderr", "Deno.exit"]
  .map((name) => [name, new RegExp(`\\b${name.replace(".", "\\.")}\\b`)] as const);

/** A source file of lib/, by its path relative to lib/. */
type Tree = Map<string, string>;

// The supervisor layer's files at the top of lib/: the Supervisor, and
// the health wiring it composes (probes of running children).
const SUPERVISOR_FILES: ReadonlySet<string> = new Set(["supervisor.ts", "health.ts"]);

function layerOf(path: string): Layer | null {
  if (SUPERVISOR_FILES.has(path)) return "supervisor";
  const top = path.split("/")[0] as Layer;
  return top in MAY_IMPORT ? top : null;
}

// Removes comments, so the rules read code, not its documentation.
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /(^|[^:\\"'`])\/\/.*$/gm,
    "$1",
  );
}

function importsOf(source: string): string[] {
  const code = stripComments(source);
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']/g,
    /\bimport\s+["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) found.push(match[1]!);
  }
  return found;
}

/**
 * Every rule the tree breaks, as `file: what is wrong`; empty when the map
 * holds.
 */
function violations(tree: Tree): string[] {
  const found: string[] = [];
  for (const [path, source] of tree) {
    const layer = layerOf(path);
    if (layer === null) {
      found.push(`${path}: is in no layer (core, config, output, os, control, cli)`);
      continue;
    }
    for (const specifier of importsOf(source)) {
      if (!specifier.startsWith(".")) {
        if (layer === "core") {
          found.push(`${path}: core imports "${specifier}"; core imports only core`);
        }
        continue;
      }
      const target = join(path, "..", specifier);
      if (target.startsWith("..")) {
        if (!(layer === "cli" && target === "../deno.json")) {
          found.push(`${path}: imports "${specifier}", outside lib/`);
        }
        continue;
      }
      const to = layerOf(target);
      if (to === null) {
        found.push(`${path}: imports "${specifier}", which is in no layer`);
      } else if (to !== layer && !MAY_IMPORT[layer].includes(to)) {
        found.push(
          `${path}: ${layer} imports ${to} ("${specifier}"); the arrow runs the wrong way`,
        );
      }
    }
    const code = stripComments(source);
    for (const [name, call] of OS_CALLS) {
      if (layer !== "os" && call.test(code)) {
        found.push(`${path}: calls ${name} outside os/`);
      }
    }
    for (const [name, call] of CONSOLE_CALLS) {
      if (layer !== "cli" && call.test(code)) {
        found.push(`${path}: prints or exits (${name}) outside cli/`);
      }
    }
    if (layer === "core" && /\bDeno\./.test(code)) {
      found.push(`${path}: core uses Deno.*; it reaches the OS only through ports`);
    }
    // Interfaces (the Clock port) may name timers; code may not call them.
    const body = code.replace(/\binterface \w+[^{]*\{[\s\S]*?\n\}/g, "");
    if (
      layer === "core" &&
      /(?<![.\w])(setTimeout|setInterval|Date\.now|performance\.now)\b/.test(body)
    ) {
      found.push(`${path}: core reads time itself; it is handed a Clock`);
    }
    // Files are read through Deno.* or node:fs (the config's non-blocking open).
    const touchesFiles = /\bDeno\./.test(code) ||
      importsOf(source).some((specifier) => /^node:fs(\/|$)/.test(specifier));
    if (layer === "config" && path !== "config/load.ts" && touchesFiles) {
      found.push(`${path}: only config/load.ts touches files`);
    }
  }
  return found;
}

async function readTree(dir: string): Promise<Tree> {
  const tree: Tree = new Map();
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        tree.set(relative(dir, path), await Deno.readTextFile(path));
      }
    }
  };
  await walk(dir);
  return tree;
}

Deno.test("lib/ follows the map: imports run the right way and only os/ and cli/ touch the OS and the console", async () => {
  const tree = await readTree(LIB);
  assert.ok(tree.size > 20, `read ${tree.size} files of lib/`);
  assert.deepEqual(violations(tree), []);
});

Deno.test("the layout check catches every kind of wrong arrow", () => {
  const bad: Tree = new Map([
    ["core/a.ts", 'import { x } from "../os/b.ts";\nimport y from "yaml";\nDeno.env;'],
    ["core/t.ts", "setTimeout(() => {}, 1);"],
    ["os/b.ts", 'export { z } from "../supervisor.ts";'],
    ["output/c.ts", 'const m = await import("../cli/run.ts");\nconsole.log(m);'],
    ["config/keys.ts", "await Deno.readTextFile('x');"],
    ["config/users.ts", 'import { readFile } from "node:fs/promises";'],
    ["supervisor.ts", 'import "../main.ts";\nDeno.kill(1, "SIGTERM");'],
    ["stray.ts", ""],
  ]);
  assert.deepEqual(violations(bad), [
    'core/a.ts: core imports os ("../os/b.ts"); the arrow runs the wrong way',
    'core/a.ts: core imports "yaml"; core imports only core',
    "core/a.ts: core uses Deno.*; it reaches the OS only through ports",
    "core/t.ts: core reads time itself; it is handed a Clock",
    'os/b.ts: os imports supervisor ("../supervisor.ts"); the arrow runs the wrong way',
    'output/c.ts: output imports cli ("../cli/run.ts"); the arrow runs the wrong way',
    "output/c.ts: prints or exits (console) outside cli/",
    "config/keys.ts: only config/load.ts touches files",
    "config/users.ts: only config/load.ts touches files",
    'supervisor.ts: imports "../main.ts", outside lib/',
    "supervisor.ts: calls Deno.kill outside os/",
    "stray.ts: is in no layer (core, config, output, os, control, cli)",
  ]);
});

Deno.test("comments that mention Deno or other layers break no rule", () => {
  const tree: Tree = new Map([
    [
      "core/a.ts",
      '// Deno.Command is os/\'s; see "../os/x.ts"\n/** console.log */\nexport const a = 1;',
    ],
  ]);
  assert.deepEqual(violations(tree), []);
});
