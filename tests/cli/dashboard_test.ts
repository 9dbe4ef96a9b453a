/**
 * The dashboard in a real browser: Debian's chromium driven by
 * `npm:playwright-core`, against a real `tend run --http`. It opens the
 * page with the token tend printed, sees every process and its state,
 * restarts one (its pid changes) and stops one (STOPPED), sees a line a
 * child printed after the page loaded appear in the log pane, and sees
 * that a child printing HTML gets text, not elements. It also checks that
 * the token leaves the address bar, and that a missing or wrong token is
 * said plainly.
 *
 * `TEND_SCREENSHOT=docs/dashboard.png` saves the README's screenshot.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { listening } from "../_fakes/http.ts";
import { tempDir, tend, TIMEOUT, yaml } from "../_fakes/tend.ts";
import { assertTool, needs, which } from "../_fakes/tools.ts";

const CHROMIUM = await which("chromium");
const NO_CHROMIUM = CHROMIUM === null ? "chromium (apt-get install chromium)" : null;

// playwright-core asks, as it loads, whether it runs under WSL by reading
// /proc, which Deno allows only under --allow-all; this answer skips the
// question (it matters only to its `open` helper). Hence the late import.
Deno.env.set("__IS_WSL_TEST__", "1");
const { chromium } = await import("playwright-core");

// Chromium's flags for a machine with no display, no GPU and no network.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const HTML_LINE =
  `<img src=x onerror="window.__pwned=1"><b>bold</b><script>window.__pwned=2</script>`;

const row = (page: Page, name: string) => page.locator(`tr[data-name="${name}"]`);

Deno.test(
  needs(
    "the dashboard in chromium: every process, restart and stop, a live log line, HTML shown as text",
    NO_CHROMIUM,
  ),
  async () => {
    assertTool(NO_CHROMIUM);
    await using dir = await tempDir();
    const trigger = join(dir.path, "request");
    const file = await dir.write(
      "procs.yaml",
      yaml({
        minRestartDelay: 0.5,
        maxRestartDelay: 2,
        processes: {
          web: {
            cmd: [
              "sh",
              "-c",
              `echo listening on :8000; while :; do if [ -e ${trigger} ]; then ` +
              `rm -f ${trigger}; echo GET /health 200; fi; sleep 0.1; done`,
            ],
          },
          worker: {
            cmd: [
              "sh",
              "-c",
              "i=0; while :; do i=$((i+1)); echo job $i done; sleep 1; done",
            ],
          },
          flaky: {
            cmd: [
              "sh",
              "-c",
              "echo connecting to db; echo 'db: connection refused' >&2; exit 3",
            ],
          },
          template: {
            cmd: ["sh", "-c", `printf '%s\\n' '${HTML_LINE}'; exec sleep 1000`],
          },
          migrate: { cmd: ["sh", "-c", "echo 3 migrations applied"], restart: "never" },
          cron: { cmd: ["sleep", "1000"], autostart: false },
        },
      }),
    );
    await using t = tend([
      "run",
      "--log-format",
      "json",
      "--http",
      "127.0.0.1:0",
      file,
    ]);
    const at = await listening(t);
    assert.ok(at.token !== null);
    await t.said("web", "listening on :8000");
    await t.event("migrate", "exited");

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: CHROMIUM_ARGS,
    });
    try {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 760 },
        colorScheme: "dark",
      });
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      await page.goto(`${at.base}/#token=${at.token}`);

      // Every process, with its state; the token gone from the address bar.
      for (
        const [name, state] of [
          ["web", "RUNNING"],
          ["worker", "RUNNING"],
          ["template", "RUNNING"],
          ["migrate", "EXITED"],
          ["cron", "STOPPED"],
        ] as const
      ) {
        await row(page, name).locator(".state", { hasText: state }).waitFor();
      }
      await row(page, "flaky").waitFor();
      assert.equal(await page.locator("#rows tr").count(), 6);
      assert.equal(page.url(), `${at.base}/`);
      assert.equal(
        await page.evaluate("sessionStorage.getItem('tend-token')"),
        at.token,
      );
      await page.locator("#conn", { hasText: "live" }).waitFor();

      // Restart: a new pid.
      const before = (await row(page, "web").locator("td.pid").textContent())!.trim();
      assert.match(before, /^\d+$/);
      await row(page, "web").locator('button[data-act="restart"]').click();
      // (The page's CSP forbids eval, so waitForFunction cannot run here.)
      await row(page, "web").locator("td.pid", {
        hasNotText: new RegExp(`^(${before}|-)$`),
      })
        .waitFor();
      await row(page, "web").locator(".state", { hasText: "RUNNING" }).waitFor();
      const after = (await row(page, "web").locator("td.pid").textContent())!.trim();
      assert.notEqual(after, before);
      assert.equal(await row(page, "web").locator("td.restarts").textContent(), "1");

      // A line printed after the page loaded shows in the log pane.
      await row(page, "web").locator("td.name button").click();
      await page.locator("#log-name", { hasText: "web" }).waitFor();
      await page.locator("#log .line", { hasText: "listening on :8000" }).first()
        .waitFor();
      assert.equal(
        await page.locator("#log .line", { hasText: "GET /health" }).count(),
        0,
      );
      await Deno.writeTextFile(trigger, "");
      await page.locator("#log .line", { hasText: "GET /health 200" }).waitFor();

      // HTML a child prints is text: no element, no script run.
      await row(page, "template").locator("td.name button").click();
      await page.locator("#log .line", { hasText: "<img src=x" }).waitFor();
      assert.equal(await page.locator("#log img, #log b, #log script").count(), 0);
      assert.equal(await page.locator("img").count(), 0);
      assert.equal(
        (await page.locator("#log .line .m").last().textContent())!.trim(),
        HTML_LINE,
      );
      assert.equal(await page.evaluate("typeof window.__pwned"), "undefined");

      // Stop: STOPPED, and held.
      await row(page, "worker").locator('button[data-act="stop"]').click();
      await row(page, "worker").locator(".state", { hasText: "STOPPED" }).waitFor();
      await row(page, "worker").locator("td.next", { hasText: "held" }).waitFor();
      assert.equal(await row(page, "worker").locator("td.pid").textContent(), "-");

      // Keyboard: / focuses the filter, which narrows the table.
      await page.keyboard.press("/");
      await page.keyboard.type("flak");
      assert.equal(await page.locator("#rows tr:not(.hidden)").count(), 1);
      await page.keyboard.press("Escape");
      assert.equal(await page.locator("#rows tr:not(.hidden)").count(), 6);

      // The view for the README: every process's log, the table live.
      await page.locator("#all-logs").click();
      await page.locator("#log .line .p", { hasText: "worker" }).first().waitFor();
      await row(page, "flaky").locator(".state", { hasText: /BACKOFF|RUNNING/ })
        .waitFor();
      const shot = await page.screenshot();
      assert.ok(shot.byteLength > 10_000);
      const keep = Deno.env.get("TEND_SCREENSHOT");
      if (keep) await Deno.writeFile(keep, shot);
      else await Deno.writeFile(join(dir.path, "dashboard.png"), shot);
      assert.deepEqual(errors, []);

      // Missing and wrong tokens are said plainly.
      const bare = await browser.newPage();
      await bare.goto(`${at.base}/`);
      await bare.locator("#auth-msg", { hasText: "No token" }).waitFor();
      assert.equal(await bare.locator("#auth").isVisible(), true);
      await bare.goto(`${at.base}/#token=${"w".repeat(43)}`);
      await bare.locator("#auth-msg", { hasText: "refused (401" }).waitFor();
      // Pasting the right token works.
      await bare.locator("#token-input").fill(at.token);
      await bare.keyboard.press("Enter");
      await row(bare, "web").locator(".state", { hasText: "RUNNING" }).waitFor();
      assert.equal(await bare.locator("#auth").isVisible(), false);
      await bare.close();
      await context.close();
    } finally {
      await browser.close();
    }
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
  },
);

Deno.test(
  needs(
    "the dashboard: a new token stops the event loop that was waiting to retry",
    NO_CHROMIUM,
  ),
  async () => {
    assertTool(NO_CHROMIUM);
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { web: { cmd: ["sleep", "1000"] } } }),
    );
    await using t = tend([
      "run",
      "--log-format",
      "json",
      "--http",
      "127.0.0.1:0",
      file,
    ]);
    const at = await listening(t);
    assert.ok(at.token !== null);
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(TIMEOUT);
      // The first event streams fail: the page's loop sleeps, to retry.
      let refuse = true;
      let streams = 0;
      await page.route("**/v1/events", async (route) => {
        if (refuse) return await route.abort();
        streams++;
        await route.continue();
      });
      await page.goto(`${at.base}/#token=${at.token}`);
      await page.locator("#conn", { hasText: "retrying" }).waitFor();
      // A token pasted into the address while that loop sleeps.
      refuse = false;
      await page.evaluate(`location.hash = "#token=${at.token}"`);
      await page.locator("#conn", { hasText: "live" }).waitFor();
      await row(page, "web").locator(".state", { hasText: "RUNNING" }).waitFor();
      // Past the sleeping loop's wake-up (its 500 ms, then its requests,
      // are due before this page timer ends): no second stream opened.
      await page.evaluate("new Promise((r) => setTimeout(r, 2500))");
      await page.locator("#conn", { hasText: "live" }).waitFor();
      assert.equal(streams, 1);
    } finally {
      await browser.close();
    }
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
  },
);
