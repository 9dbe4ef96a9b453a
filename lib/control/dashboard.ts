/**
 * The dashboard: one self-contained page, served at `/` by the HTTP
 * listener. Its HTML, CSS and script are strings in this module, so it
 * needs no build step, no file next to the source and no network (it
 * works offline and inside a `deno compile` binary), and it loads nothing
 * from anywhere else.
 *
 * What it does: a table of every process (state in colour, pid, uptime,
 * restarts, last exit, next start, ready) kept live from `/v1/events`;
 * start, stop and restart buttons; a log pane that follows one process
 * (or all) from `/v1/logs?follow=1`. It reads the token from the URL's
 * fragment (`/#token=...`, which browsers never send to the server), takes
 * it out of the address bar and its history at once (`replaceState`), and
 * keeps it in `sessionStorage` (this tab only); it never writes it
 * anywhere else, and says plainly when it is missing or refused.
 *
 * Safety: a child's output, and every other string from the API, is put
 * on the page with `textContent`, never as HTML, so a line like
 * `<img src=x onerror=...>` shows as that text. The page's
 * Content-Security-Policy ({@linkcode DASHBOARD_CSP}) allows only its own
 * inline script and style, by their SHA-256 hashes, and connections to its
 * own origin: even an injection that got through could run nothing.
 *
 * Keys: `/` filter, `j`/`k` (or the arrows) move through processes, `l`
 * follows the selected process's log, `a` all logs, `s` start, `x` stop,
 * `r` restart the selected process, `c` clears the log, `?` lists the keys.
 * Every button is reachable with Tab.
 *
 * @module
 */

import { createHash } from "node:crypto";

const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f6f4; --panel: #ffffff; --fg: #1c1e21; --muted: #686d73; --line: #e3e3df;
  --accent: #2457d6; --sel: #edf2ff; --logbg: #fbfbfa; --err: #b42318;
  --run: #137333; --start: #0b7285; --back: #b35c00; --stopping: #6d3fc0;
  --stop: #6b7280; --exited: #4b5563; --fatal: #c0262d;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1014; --panel: #15181e; --fg: #e4e5e7; --muted: #959ba3; --line: #252a32;
    --accent: #86a8ff; --sel: #1b2335; --logbg: #0b0d10; --err: #ff9b91;
    --run: #55d187; --start: #4fd1e0; --back: #f5b342; --stopping: #b9a2ff;
    --stop: #9aa1ab; --exited: #aab3c0; --fatal: #ff7b7b;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { height: 100%; }
body {
  margin: 0; display: flex; flex-direction: column; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
header {
  display: flex; align-items: center; gap: 14px; flex-wrap: wrap;
  padding: 10px 16px; background: var(--panel); border-bottom: 1px solid var(--line);
}
h1 { margin: 0; font-size: 17px; letter-spacing: .02em; }
h1 .leaf { color: var(--run); }
h2 { margin: 0; font-size: 13px; font-weight: 600; }
.meta { color: var(--muted); font-size: 13px; }
.grow { flex: 1; }
#summary { display: flex; gap: 6px; flex-wrap: wrap; }
.chip { font: 600 11px/1 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  padding: 4px 7px; border-radius: 999px; border: 1px solid currentColor; }
.conn { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); }
.conn::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--stop); }
.conn.live::before { background: var(--run); }
.conn.warn::before { background: var(--back); }
.conn.off::before { background: var(--fatal); }
#auth {
  margin: 12px 16px 0; padding: 12px 14px; border: 1px solid var(--fatal); border-radius: 8px;
  background: var(--panel);
}
#auth p { margin: 0 0 8px; }
#auth form { display: flex; gap: 8px; }
main { flex: 1; min-height: 0; display: flex; flex-direction: column; }
#procs { overflow: auto; max-height: 58vh; background: var(--panel); border-bottom: 1px solid var(--line); }
.toolbar { display: flex; align-items: center; gap: 10px; padding: 8px 16px; }
#procs .toolbar { position: sticky; left: 0; }
input[type=search], input[type=password] {
  font: inherit; font-size: 13px; padding: 5px 9px; min-width: 220px; color: var(--fg);
  background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
}
table { border-collapse: collapse; width: 100%; }
th, td { padding: 6px 12px; border-top: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { position: sticky; top: 0; z-index: 1; background: var(--panel); color: var(--muted);
  font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .05em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.why { color: var(--muted); max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
tr.sel td { background: var(--sel); }
tr.following td.name button { text-decoration: underline; text-underline-offset: 3px; }
tr.hidden { display: none; }
td.name button { font-weight: 600; font-size: 14px; border: 0; background: none; padding: 0; color: var(--fg); }
td.actions div { display: flex; gap: 6px; }
.state { display: inline-flex; align-items: center; gap: 6px; padding: 2px 8px; border-radius: 999px;
  border: 1px solid currentColor; font: 600 11.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.state::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.s-running { color: var(--run); } .s-starting { color: var(--start); } .s-backoff { color: var(--back); }
.s-stopping { color: var(--stopping); } .s-stopped { color: var(--stop); } .s-exited { color: var(--exited); }
.s-fatal { color: var(--fatal); }
.yes { color: var(--run); } .no { color: var(--back); } .dim { color: var(--muted); }
button {
  font: inherit; font-size: 12px; padding: 3px 10px; border-radius: 6px; cursor: pointer;
  color: var(--fg); background: var(--bg); border: 1px solid var(--line);
}
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .35; cursor: default; }
button.danger:hover:not(:disabled) { border-color: var(--fatal); color: var(--fatal); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
#logs { flex: 1; min-height: 160px; display: flex; flex-direction: column; }
#logs .toolbar { border-bottom: 1px solid var(--line); }
#log {
  flex: 1; overflow: auto; margin: 0; padding: 8px 16px; background: var(--logbg);
  font: 12.5px/1.55 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  white-space: pre-wrap; overflow-wrap: anywhere;
}
#log .t { color: var(--muted); margin-right: 10px; }
#log .p { color: var(--accent); margin-right: 8px; }
#log .err .m { color: var(--err); }
#log .note { color: var(--back); font-style: italic; }
#log .empty { color: var(--muted); }
label { font-size: 12px; color: var(--muted); display: inline-flex; align-items: center; gap: 5px; }
kbd { font: 11px ui-monospace, Menlo, monospace; padding: 1px 5px; border: 1px solid var(--line);
  border-bottom-width: 2px; border-radius: 4px; background: var(--bg); }
#toast { position: fixed; right: 16px; bottom: 16px; max-width: 420px; padding: 8px 12px; border-radius: 8px;
  background: var(--panel); border: 1px solid var(--line); box-shadow: 0 4px 18px rgba(0,0,0,.18); }
#toast.error { border-color: var(--fatal); }
#toast:empty { display: none; }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--panel); color: var(--fg); padding: 16px 20px; }
dialog::backdrop { background: rgba(0,0,0,.35); }
dialog table td { border: 0; padding: 3px 10px 3px 0; }
`;

// The script: plain JavaScript, no template literals (this is one).
const SCRIPT = `
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "tend-token";
  const MAX_LOG = 5000;
  const procs = new Map();
  const rows = new Map();
  let token = null;
  let skew = 0;
  let tendInfo = null;
  let selected = null;
  let following = null;
  let eventsAbort = null;
  let logAbort = null;
  let renderQueued = false;
  class AuthError extends Error {}

  function readToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      try { token = decodeURIComponent(m[1]); } catch (e) { token = m[1]; }
      try { sessionStorage.setItem(KEY, token); } catch (e) { /* memory only */ }
      history.replaceState(null, "", location.pathname + location.search);
    } else {
      try { token = sessionStorage.getItem(KEY); } catch (e) { token = null; }
    }
  }

  function setConn(kind, text) {
    const el = $("conn");
    el.className = "conn " + kind;
    el.textContent = text;
  }

  let toastTimer = 0;
  function toast(text, error) {
    const el = $("toast");
    el.textContent = text;
    el.className = error ? "error" : "";
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.textContent = ""; }, error ? 8000 : 3000);
  }

  function needToken(why) {
    generation++;
    if (eventsAbort) eventsAbort.abort();
    if (logAbort) logAbort.abort();
    try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    $("auth-msg").textContent = why === "missing"
      ? "No token: this page needs tend's token to show and control processes. Open the address tend printed when it started (it ends in #token=...), or paste the token here."
      : "The token was refused (401 Unauthorized): it is not this tend's token. tend makes a new one each time it starts, unless TEND_TOKEN or http.tokenFile gives one. Paste the current token:";
    $("auth").hidden = false;
    setConn("off", why === "missing" ? "no token" : "token refused");
    $("token-input").focus();
  }

  async function api(path, init) {
    const options = Object.assign({}, init || {});
    const headers = new Headers(options.headers || {});
    headers.set("Authorization", "Bearer " + token);
    options.headers = headers;
    options.cache = "no-store";
    options.credentials = "omit";
    const res = await fetch(path, options);
    const date = Date.parse(res.headers.get("date") || "");
    // The Date header has whole seconds: only a real skew is corrected.
    if (!isNaN(date)) skew = Math.abs(date - Date.now()) > 2000 ? date - Date.now() : 0;
    if (res.status === 401) { needToken("wrong"); throw new AuthError("401"); }
    return res;
  }

  async function readLines(res, onLines) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      buf += decoder.decode(r.value, { stream: true });
      const lines = [];
      let nl;
      while ((nl = buf.indexOf("\\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line) lines.push(line);
      }
      if (lines.length) onLines(lines);
    }
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function duration(s) {
    if (!(s >= 0)) return "";
    s = Math.floor(s);
    if (s < 60) return s + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m" + String(s % 60).padStart(2, "0") + "s";
    const h = Math.floor(m / 60);
    if (h < 24) return h + "h" + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d" + String(h % 24).padStart(2, "0") + "h";
  }
  const serverNow = () => Date.now() + skew;
  const since = (iso) => (serverNow() - Date.parse(iso)) / 1000;

  function exitText(e) {
    if (!e) return "";
    return e.signal ? e.signal : "exit " + e.code;
  }

  async function loadStatus(signal) {
    const res = await api("/v1/status", { signal });
    if (!res.ok) throw new Error("status: HTTP " + res.status);
    const body = await res.json();
    tendInfo = body.tend;
    tendInfo.receivedAt = Date.now();
    procs.clear();
    for (const p of body.processes) procs.set(p.name, p);
    scheduleRender();
  }

  function apply(record) {
    if (typeof record !== "object" || record === null) return;
    if ("lost" in record) { loadStatus().catch(() => {}); return; }
    if (typeof record.name !== "string") return;
    if (record.removed) procs.delete(record.name);
    else procs.set(record.name, record);
  }

  // Each start (a new token) makes the loops of the one before stop.
  let generation = 0;

  async function followEvents(mine) {
    let delay = 500;
    while (mine === generation) {
      const ac = new AbortController();
      eventsAbort = ac;
      try {
        await loadStatus(ac.signal);
        const res = await api("/v1/events", { signal: ac.signal });
        if (!res.ok) throw new Error("HTTP " + res.status);
        setConn("live", "live");
        delay = 500;
        await readLines(res, (lines) => {
          for (const line of lines) {
            try { apply(JSON.parse(line)); } catch (e) { /* not JSON: skip */ }
          }
          scheduleRender();
        });
        setConn("warn", "tend stopped answering; reconnecting...");
      } catch (e) {
        if (e instanceof AuthError || ac.signal.aborted) return;
        setConn("warn", "cannot reach tend; retrying...");
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 10000);
    }
  }

  function cell(tr, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function makeRow(name) {
    const tr = document.createElement("tr");
    tr.dataset.name = name;
    const nameCell = cell(tr, "name");
    const nameButton = document.createElement("button");
    nameButton.textContent = name;
    nameButton.dataset.act = "logs";
    nameButton.title = "Show this process's log (l)";
    nameCell.appendChild(nameButton);
    const state = document.createElement("span");
    cell(tr, "").appendChild(state);
    const row = {
      tr, nameButton, state,
      ready: cell(tr, "ready"),
      pid: cell(tr, "num pid"),
      uptime: cell(tr, "num uptime"),
      restarts: cell(tr, "num restarts"),
      exit: cell(tr, "exit"),
      next: cell(tr, "why next"),
      buttons: {},
    };
    const actions = document.createElement("div");
    cell(tr, "actions").appendChild(actions);
    for (const [act, label, cls] of [["start", "Start", ""], ["stop", "Stop", "danger"], ["restart", "Restart", ""]]) {
      const b = document.createElement("button");
      b.textContent = label;
      b.dataset.act = act;
      if (cls) b.className = cls;
      b.setAttribute("aria-label", label + " " + name);
      actions.appendChild(b);
      row.buttons[act] = b;
    }
    return row;
  }

  function set(el, text, title) {
    if (el.textContent !== text) el.textContent = text;
    if (title !== undefined && el.title !== title) el.title = title;
  }

  function fill(row, s) {
    const state = String(s.state);
    set(row.state, state);
    row.state.className = "state s-" + state.toLowerCase();
    row.ready.className = "ready " + (s.ready ? "yes" : state === "STARTING" ? "no" : "dim");
    set(row.ready, s.ready ? "yes" : state === "STARTING" ? "not yet" : "-", s.probe ? String(s.probe) : "");
    set(row.pid, s.pid === null ? "-" : String(s.pid));
    set(row.restarts, String(s.restarts));
    row.buttons.start.disabled = (state === "RUNNING" || state === "STARTING") && !s.held;
    row.buttons.stop.disabled = s.held && state === "STOPPED";
    row.buttons.restart.disabled = false;
    times(row, s);
  }

  // The cells that change with the clock.
  function times(row, s) {
    set(row.uptime, s.pid !== null && s.startedAt ? duration(since(s.startedAt)) : "-");
    const e = s.lastExit;
    set(row.exit, e ? exitText(e) + (e.at ? ", " + duration(since(e.at)) + " ago" : "") : "-",
      s.spawnError ? "could not start: " + s.spawnError : "");
    let next = "-";
    if (s.held) next = "held (Start releases it)";
    else if (s.waiting) next = s.waiting;
    else if (s.nextStartAt) next = "in " + duration(Math.max(0, Math.ceil(-since(s.nextStartAt))));
    else if (s.state === "EXITED") next = "finished";
    else if (s.state === "FATAL") next = "gave up" + (s.spawnError ? ": " + s.spawnError : "");
    set(row.next, next, next);
  }

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  function render() {
    const tbody = $("rows");
    for (const [name, row] of rows) {
      if (!procs.has(name)) { row.tr.remove(); rows.delete(name); }
    }
    let prev = null;
    for (const [name, s] of procs) {
      let row = rows.get(name);
      if (!row) { row = makeRow(name); rows.set(name, row); }
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (row.tr !== want) tbody.insertBefore(row.tr, want);
      fill(row, s);
      prev = row.tr;
    }
    filter();
    summary();
    marks();
  }

  function summary() {
    const counts = new Map();
    for (const s of procs.values()) counts.set(s.state, (counts.get(s.state) || 0) + 1);
    const box = $("summary");
    box.textContent = "";
    for (const state of ["RUNNING", "STARTING", "BACKOFF", "STOPPING", "STOPPED", "EXITED", "FATAL"]) {
      if (!counts.has(state)) continue;
      const chip = document.createElement("span");
      chip.className = "chip s-" + state.toLowerCase();
      chip.textContent = counts.get(state) + " " + state;
      box.appendChild(chip);
    }
    const running = counts.get("RUNNING") || 0;
    document.title = "tend: " + running + "/" + procs.size + " running";
    if (tendInfo) {
      const up = tendInfo.uptime + (Date.now() - tendInfo.receivedAt) / 1000;
      $("meta").textContent = "tend " + tendInfo.version + " \\u00b7 pid " + tendInfo.pid +
        " \\u00b7 up " + duration(up) + (tendInfo.config ? " \\u00b7 " + tendInfo.config : "");
    }
  }

  function filter() {
    const text = $("filter").value.trim().toLowerCase();
    let shown = 0;
    for (const [name, row] of rows) {
      const s = procs.get(name);
      const hit = !text || name.toLowerCase().includes(text) || (s && s.state.toLowerCase().includes(text));
      row.tr.classList.toggle("hidden", !hit);
      if (hit) shown++;
    }
    $("count").textContent = text ? shown + " of " + rows.size : rows.size + " processes";
    $("none").hidden = shown > 0 || rows.size === 0;
  }

  function marks() {
    for (const [name, row] of rows) {
      row.tr.classList.toggle("sel", name === selected);
      row.tr.classList.toggle("following", name === following);
      row.tr.setAttribute("aria-selected", name === selected ? "true" : "false");
    }
  }

  function visibleNames() {
    return [...rows].filter(([, r]) => !r.tr.classList.contains("hidden")).map(([n]) => n);
  }

  function select(name, focus) {
    selected = name;
    marks();
    const row = rows.get(name);
    if (row && focus) row.nameButton.focus();
  }

  function move(step) {
    const names = visibleNames();
    if (!names.length) return;
    const at = names.indexOf(selected);
    const next = at < 0 ? (step > 0 ? 0 : names.length - 1) : Math.min(names.length - 1, Math.max(0, at + step));
    select(names[next], true);
  }

  async function act(name, action) {
    const row = rows.get(name);
    const button = row && row.buttons[action];
    if (button) button.disabled = true;
    try {
      const res = await api("/v1/processes/" + encodeURIComponent(name) + "/" + action, { method: "POST" });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) toast(name + ": " + (body.error || "HTTP " + res.status), true);
      // The answer's status is not applied: it may be older than what the
      // events stream said meanwhile (they come on different connections).
      else toast(name + ": " + action + " requested");
    } catch (e) {
      if (!(e instanceof AuthError)) toast(name + ": " + e.message, true);
    } finally {
      const s = procs.get(name);
      if (row && s) fill(row, s);
    }
  }

  // The log pane.
  function clearLog() {
    $("log").textContent = "";
  }

  function logNote(text) {
    const div = document.createElement("div");
    div.className = "note";
    div.textContent = text;
    appendNodes([div]);
  }

  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    const p = (n, w) => String(n).padStart(w, "0");
    return p(d.getHours(), 2) + ":" + p(d.getMinutes(), 2) + ":" + p(d.getSeconds(), 2) + "." + p(d.getMilliseconds(), 3);
  }

  function appendNodes(nodes) {
    const pane = $("log");
    const stick = $("stick").checked && pane.scrollHeight - pane.scrollTop - pane.clientHeight < 48;
    const empty = pane.querySelector(".empty");
    if (empty) empty.remove();
    const frag = document.createDocumentFragment();
    for (const n of nodes) frag.appendChild(n);
    pane.appendChild(frag);
    let extra = pane.childElementCount - MAX_LOG;
    while (extra-- > 0 && pane.firstElementChild) pane.firstElementChild.remove();
    if (stick) pane.scrollTop = pane.scrollHeight;
  }

  function logLines(lines) {
    const nodes = [];
    for (const line of lines) {
      let r;
      try { r = JSON.parse(line); } catch (e) { continue; }
      if (!r || typeof r !== "object") continue;
      const div = document.createElement("div");
      if (r.event === "lost") {
        div.className = "note";
        div.textContent = String(r.message || "lines lost");
        nodes.push(div);
        continue;
      }
      div.className = "line" + (r.stream === "stderr" ? " err" : "");
      const t = document.createElement("span");
      t.className = "t";
      t.textContent = clock(r.time);
      div.appendChild(t);
      let text = String(r.message || "");
      const prefix = "[" + r.process + "] ";
      if (text.startsWith(prefix)) text = text.slice(prefix.length);
      if (following === "") {
        const p = document.createElement("span");
        p.className = "p";
        p.textContent = String(r.process);
        div.appendChild(p);
      }
      const m = document.createElement("span");
      m.className = "m";
      m.textContent = text;
      div.appendChild(m);
      nodes.push(div);
    }
    if (nodes.length) appendNodes(nodes);
  }

  async function followLog(name) {
    if (logAbort) logAbort.abort();
    const ac = new AbortController();
    logAbort = ac;
    following = name;
    marks();
    $("log-name").textContent = name === "" ? "all processes" : name;
    clearLog();
    const wait = document.createElement("div");
    wait.className = "empty";
    wait.textContent = "Waiting for output...";
    $("log").appendChild(wait);
    let lines = 200;
    let delay = 500;
    for (;;) {
      try {
        const path = "/v1/logs?follow=1&lines=" + lines + (name ? "&process=" + encodeURIComponent(name) : "");
        const res = await api(path, { signal: ac.signal });
        if (!res.ok) {
          const body = await res.json().catch(() => ({}));
          logNote(body.error || "HTTP " + res.status);
          if (res.status === 404 || res.status === 400) return;
        } else {
          delay = 500;
          await readLines(res, logLines);
          if (ac.signal.aborted) return;
          logNote("The log stream ended (tend stopped, or is restarting); reconnecting...");
        }
      } catch (e) {
        if (e instanceof AuthError || ac.signal.aborted) return;
        logNote("Cannot follow the log (" + e.message + "); retrying...");
      }
      lines = 0;
      await sleep(delay);
      if (ac.signal.aborted) return;
      delay = Math.min(delay * 2, 10000);
    }
  }

  function start() {
    generation++;
    if (eventsAbort) eventsAbort.abort();
    $("auth").hidden = true;
    setConn("warn", "connecting...");
    followEvents(generation);
  }

  // Wiring.
  $("rows").addEventListener("click", (e) => {
    const button = e.target instanceof Element ? e.target.closest("button") : null;
    if (!button) return;
    const tr = button.closest("tr");
    const name = tr && tr.dataset.name;
    if (!name) return;
    select(name, false);
    if (button.dataset.act === "logs") followLog(name);
    else act(name, button.dataset.act);
  });
  $("rows").addEventListener("focusin", (e) => {
    const tr = e.target instanceof Element ? e.target.closest("tr") : null;
    if (tr && tr.dataset.name) select(tr.dataset.name, false);
  });
  $("filter").addEventListener("input", filter);
  $("all-logs").addEventListener("click", () => followLog(""));
  $("clear").addEventListener("click", clearLog);
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("help-close").addEventListener("click", () => $("help").close());
  $("auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token-input").value.trim();
    if (!value) return;
    $("token-input").value = "";
    token = value;
    try { sessionStorage.setItem(KEY, token); } catch (err) { /* memory only */ }
    start();
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement;
    if (e.key === "Escape" && t === $("filter")) {
      $("filter").value = "";
      filter();
      t.blur();
      return;
    }
    if (typing || $("help").open) return;
    const inLog = t instanceof Element && t.closest("#log");
    const actions = { s: "start", x: "stop", r: "restart" };
    switch (e.key) {
      case "/": e.preventDefault(); $("filter").focus(); break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "ArrowDown": if (!inLog) { e.preventDefault(); move(1); } break;
      case "ArrowUp": if (!inLog) { e.preventDefault(); move(-1); } break;
      case "l": if (selected) followLog(selected); break;
      case "a": followLog(""); break;
      case "c": clearLog(); break;
      case "?": $("help").showModal(); break;
      case "s": case "x": case "r":
        if (selected) act(selected, actions[e.key]);
        break;
    }
  });
  setInterval(() => {
    for (const [name, row] of rows) {
      const s = procs.get(name);
      if (s && !row.tr.classList.contains("hidden")) times(row, s);
    }
    summary();
  }, 1000);

  // A new address with a token (pasted into this tab) takes over.
  window.addEventListener("hashchange", () => {
    if (!/(?:^#|&)token=/.test(location.hash)) return;
    readToken();
    if (token) start();
  });

  readToken();
  if (!token) needToken("missing");
  else start();
})();
`;

const BODY = `
<header>
  <h1><span class="leaf" aria-hidden="true">&#9679;</span> tend</h1>
  <span id="meta" class="meta"></span>
  <span class="grow"></span>
  <span id="summary" aria-label="processes by state"></span>
  <span id="conn" class="conn" role="status">starting</span>
  <button id="help-button" type="button" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">?</button>
</header>
<div id="auth" role="alert" hidden>
  <p id="auth-msg"></p>
  <form id="auth-form" autocomplete="off">
    <input id="token-input" type="password" aria-label="tend's token" placeholder="token" spellcheck="false">
    <button type="submit">Use this token</button>
  </form>
</div>
<main>
  <section id="procs" aria-label="processes">
    <div class="toolbar">
      <input id="filter" type="search" placeholder="Filter by name or state   ( / )" aria-label="Filter processes">
      <span id="count" class="meta"></span>
    </div>
    <table>
      <thead><tr>
        <th scope="col">Name</th><th scope="col">State</th><th scope="col">Ready</th>
        <th scope="col" class="num">PID</th><th scope="col" class="num">Uptime</th>
        <th scope="col" class="num">Restarts</th><th scope="col">Last exit</th>
        <th scope="col">Next start</th><th scope="col">Actions</th>
      </tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <p id="none" class="meta toolbar" hidden>No process matches the filter.</p>
  </section>
  <section id="logs" aria-label="log">
    <div class="toolbar">
      <h2>Log: <span id="log-name" class="meta">choose a process (click its name, or l)</span></h2>
      <span class="grow"></span>
      <label><input id="stick" type="checkbox" checked> keep at the newest line</label>
      <button id="all-logs" type="button">All processes</button>
      <button id="clear" type="button">Clear</button>
    </div>
    <pre id="log" tabindex="0" aria-label="log lines"></pre>
  </section>
</main>
<div id="toast" role="status" aria-live="polite"></div>
<dialog id="help" aria-label="Keyboard shortcuts">
  <h2>Keyboard</h2>
  <table>
    <tr><td><kbd>/</kbd></td><td>filter processes (<kbd>Esc</kbd> clears)</td></tr>
    <tr><td><kbd>j</kbd> <kbd>k</kbd> or arrows</td><td>select the next or previous process</td></tr>
    <tr><td><kbd>l</kbd></td><td>follow the selected process's log</td></tr>
    <tr><td><kbd>a</kbd></td><td>follow every process's log</td></tr>
    <tr><td><kbd>s</kbd> <kbd>x</kbd> <kbd>r</kbd></td><td>start, stop, restart the selected process</td></tr>
    <tr><td><kbd>c</kbd></td><td>clear the log pane</td></tr>
    <tr><td><kbd>Tab</kbd></td><td>reach every button</td></tr>
  </table>
  <p><button id="help-close" type="button">Close</button></p>
</dialog>
`;

const ICON = "data:image/svg+xml," +
  encodeURIComponent(
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>" +
      "<circle cx='8' cy='8' r='6' fill='#1f9d55'/></svg>",
  );

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64");
}

/**
 * The page's Content-Security-Policy: nothing from anywhere but its own
 * inline script and style (by hash), fetches to its own origin, its
 * inline icon; no framing, no forms sent anywhere, no `<base>`.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${sha256(SCRIPT)}'`,
  `style-src 'sha256-${sha256(STYLE)}'`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The whole page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>tend</title>
<link rel="icon" href="${ICON}">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;
