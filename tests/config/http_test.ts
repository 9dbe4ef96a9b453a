/**
 * The `http:` key and the listen address syntax it shares with `--http`.
 */

import assert from "node:assert/strict";
import { isLoopbackIp, parseListen } from "../../lib/config/http.ts";
import { ConfigError, formatProblem, parseConfig } from "../../lib/config/load.ts";
import { assertValidatesSchema } from "../_fakes/schema.ts";

Deno.test("listen addresses: loopback by default, :PORT is every interface, names other than localhost refused", () => {
  const cases: [string, string, number, boolean, boolean][] = [
    ["9100", "127.0.0.1", 9100, true, false],
    ["127.0.0.1:9100", "127.0.0.1", 9100, true, false],
    ["127.8.9.10:0", "127.8.9.10", 0, true, false],
    ["localhost:9100", "127.0.0.1", 9100, true, false],
    ["LocalHost:1", "127.0.0.1", 1, true, false],
    ["[::1]:9100", "::1", 9100, true, false],
    [":9100", "0.0.0.0", 9100, false, true],
    ["0.0.0.0:9100", "0.0.0.0", 9100, false, true],
    ["[::]:9100", "::", 9100, false, true],
    ["10.1.2.3:80", "10.1.2.3", 80, false, false],
    ["[fd00::1]:80", "fd00::1", 80, false, false],
  ];
  for (const [text, hostname, port, loopback, wildcard] of cases) {
    const a = parseListen(text);
    assert.ok(typeof a !== "string", `${text}: ${a}`);
    assert.deepEqual(
      [a.hostname, a.port, a.loopback, a.wildcard, a.text],
      [hostname, port, loopback, wildcard, text],
      text,
    );
  }
  for (
    const [text, problem] of [
      ["example.com:80", /not an IP address or localhost/],
      ["127.0.0.1:65536", /at most 65535/],
      ["127.0.0.1", /must be HOST:PORT/],
      ["127.0.0.1:", /must be HOST:PORT/],
      ["::1:9100", /must be HOST:PORT/],
      ["[::g]:80", /not an IPv6 address/],
      ["256.0.0.1:80", /not an IP address/],
      ["01.2.3.4:80", /not an IP address/],
      ["http://127.0.0.1:80", /must be HOST:PORT/],
      ["", /must be HOST:PORT/],
    ] as const
  ) {
    const a = parseListen(text);
    assert.equal(typeof a, "string", text);
    assert.match(a as string, problem, text);
  }
});

Deno.test("loopback addresses: 127.0.0.0/8, ::1 and 127.x mapped into IPv6", () => {
  assert.equal(isLoopbackIp("127.0.0.1"), true);
  assert.equal(isLoopbackIp("127.255.0.9"), true);
  assert.equal(isLoopbackIp("::1"), true);
  assert.equal(isLoopbackIp("::ffff:7f00:1"), true);
  assert.equal(isLoopbackIp("128.0.0.1"), false);
  assert.equal(isLoopbackIp("::ffff:a00:1"), false);
  assert.equal(isLoopbackIp("::"), false);
});

function parse(text: string) {
  const config = parseConfig(text, "procs.yaml", "/srv/app");
  assertValidatesSchema(text);
  return config;
}

function problems(text: string): string[] {
  try {
    parseConfig(text, "procs.yaml", "/srv/app");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("http: listen and tokenFile (relative to the config's folder)", () => {
  const config = parse(
    "http:\n  listen: 127.0.0.1:9100\n  tokenFile: secrets/token\n" +
      "processes:\n  web: {cmd: [sleep, '1']}\n",
  );
  assert.equal(config.http?.listen?.hostname, "127.0.0.1");
  assert.equal(config.http?.listen?.port, 9100);
  assert.equal(config.http?.tokenFile, "/srv/app/secrets/token");
  assert.equal(
    parse(
      "http: {listen: 9100, tokenFile: /etc/tend/token}\nprocesses: {a: {cmd: [x]}}\n",
    )
      .http?.tokenFile,
    "/etc/tend/token",
  );
  assert.equal(parse("processes: {a: {cmd: [x]}}\n").http, undefined);
});

Deno.test("http: a bad address, an unknown key, a token written inline are problems with their place", () => {
  assert.deepEqual(
    problems(
      "http:\n  listen: example.com:80\n  token: abc\n  port: 9100\nprocesses: {a: {cmd: [x]}}\n",
    ),
    [
      'procs.yaml:2:11: http.listen: "example.com:80": "example.com" is not an IP ' +
      "address or localhost (tend does not resolve names: write the address it " +
      "should listen on)",
      'procs.yaml:3:3: http.token: unknown key "token" (did you mean "tokenFile"? the token ' +
      "itself belongs in a file or TEND_TOKEN)",
      'procs.yaml:4:3: http.port: unknown key "port" (did you mean "listen"?)',
    ],
  );
  assert.match(
    problems("http: 127.0.0.1:9100\nprocesses: {a: {cmd: [x]}}\n")[0]!,
    /http: must be a mapping with listen/,
  );
  assert.match(
    problems("htp: {listen: 9100}\nprocesses: {a: {cmd: [x]}}\n")[0]!,
    /unknown key "htp" \(did you mean "http"\?\)/,
  );
});
