#!/usr/bin/env -S node --experimental-websocket
// Screenshots of every admin dashboard page at desktop and phone widths, with headless Chromium
// driven over the DevTools protocol (Node's own WebSocket; no packages). It needs the seeded
// server of crates/passkeyd/tests/api/screenshots.rs running, whose session cookie it reads:
//
//   PASSKEYD_SCREENSHOT_DIR=/tmp/shots cargo test -p passkeyd --test api -- --ignored serve_seeded_dashboard &
//   node --experimental-websocket scripts/admin-screenshots.mjs /tmp/shots
//
// Pictures land in the same directory as <page>-<width>.png.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = process.argv[2];
const base = process.env.PASSKEYD_URL || "http://localhost:18123";
const cookie = readFileSync(join(dir, "cookie"), "utf8").trim();
const [name, value] = cookie.split("=");
const port = 9400 + Math.floor(Math.random() * 500);

const chromium = spawn(process.env.CHROMIUM || "/usr/bin/chromium", [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run", "--hide-scrollbars",
  `--user-data-dir=${mkdtempSync(join(tmpdir(), "pkd-shots-"))}`, `--remote-debugging-port=${port}`, "about:blank",
], { stdio: "ignore" });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function target() {
  for (let i = 0; i < 50; i++) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      const page = list.find((t) => t.type === "page");
      if (page) return page.webSocketDebuggerUrl;
    } catch { /* not up yet */ }
    await sleep(200);
  }
  throw new Error("Chromium did not start");
}

const ws = new WebSocket(await target());
await new Promise((r) => ws.addEventListener("open", r, { once: true }));
let next = 1;
const pending = new Map();
ws.addEventListener("message", (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(JSON.stringify(msg.error)));
    else resolve(msg.result);
  }
});
const send = (method, params = {}) => new Promise((resolve, reject) => {
  const id = next++;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params }));
});

await send("Page.enable");
await send("Network.enable");
await send("Network.setCookie", { name, value, url: `${base}/admin/`, path: "/admin", httpOnly: true, sameSite: "Strict" });

const pages = [
  ["signin", "#/overview", false],
  ["overview", "#/overview", true],
  ["apps", "#/apps", true],
  ["app", "#/apps/shop", true],
  ["users", "#/users", true],
  ["user", "#/users/APP/user-100", true],
  ["audit", "#/audit", true],
  ["audit-failures", "#/audit?outcome=failure", true],
  ["webhooks", "#/webhooks", true],
  ["admins", "#/admins", true],
];

// The seeded app's id is random: read it from the API through the page itself.
async function evaluate(expression) {
  const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
  return r.result.value;
}

let appId = null;
for (const width of [1280, 375]) {
  for (const [label, hash, signedIn] of pages) {
    if (!signedIn) await send("Network.clearBrowserCookies");
    else await send("Network.setCookie", { name, value, url: `${base}/admin/`, path: "/admin", httpOnly: true, sameSite: "Strict" });
    await send("Emulation.setDeviceMetricsOverride", { width, height: 900, deviceScaleFactor: 1, mobile: width < 600 });
    let h = hash;
    if (h.includes("APP")) {
      if (!appId) {
        appId = await evaluate(`fetch("/admin/api/apps").then(r => r.json()).then(d => d.data.find(a => a.id !== "shop").id)`);
      }
      h = h.replace("APP", appId);
    }
    await send("Page.navigate", { url: "about:blank" });
    await sleep(100);
    await send("Page.navigate", { url: `${base}/admin/${h}` });
    await sleep(1200);
    if (label === "audit") {
      await evaluate(`document.querySelector("#audit-table tbody tr[data-audit-id]")?.click(); true`);
      await sleep(400);
      await evaluate(`window.scrollTo(0, 0); true`);
    }
    if (label === "webhooks") {
      await evaluate(`document.querySelector("[data-action=show-deliveries]")?.click(); true`);
      await sleep(500);
    }
    const { cssContentSize } = await send("Page.getLayoutMetrics");
    const height = Math.min(Math.ceil(cssContentSize.height), 4000);
    await send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: width < 600 });
    await sleep(200);
    const shot = await send("Page.captureScreenshot", { format: "png" });
    writeFileSync(join(dir, `${label}-${width}.png`), Buffer.from(shot.data, "base64"));
    console.log(`${label}-${width}.png`);
  }
}
ws.close();
chromium.kill();
