// The first view before the WebAssembly: index.html carries the app's frame, which paints at
// once; the app takes its place when it starts, with its regions where the frame had them (no
// layout shift), and works. The wasm's arrival is held back here, as a slow network would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, server, browser, screenshot } from "./harness.mjs";

useServerAndBrowser();

/** A page whose wasm arrives `delayMs` late; its console errors in `page.problems`. */
async function slowWasm(query, delayMs, viewport = { width: 1280, height: 720 }) {
  const ctx = await browser.newContext({ viewport });
  let release;
  const held = new Promise((r) => (release = r));
  await ctx.route("**/*.wasm", async (route) => {
    await Promise.race([held, new Promise((r) => setTimeout(r, delayMs))]);
    await route.continue();
  });
  const page = await ctx.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && page.problems.push(m.text()));
  page.release = release;
  await page.goto(server.url + query, { waitUntil: "domcontentloaded" });
  return page;
}

/** Where each region of the page is: header, palette, canvas, inspector, run bar, drawers. */
const regions = (page) =>
  page.evaluate(() => {
    const root = document.querySelector("#shell") ?? document.querySelector("main.app");
    const box = (q) => {
      const el = root.querySelector(q);
      if (!el || el.offsetParent === null) return null;
      const r = el.getBoundingClientRect();
      return [r.x, r.y, r.width, r.height].map(Math.round);
    };
    return Object.fromEntries(
      [".app-header", ".palette", ".stage", ".inspector", ".runbar", ".drawers"].map((q) => [q, box(q)]),
    );
  });

test("the editor's frame paints before the wasm, and the app takes its place where it stood", async () => {
  const page = await slowWasm("", 60000);
  // Before the wasm: the frame, with its status said, and nothing of the app yet.
  await page.locator("#shell .shell-status").waitFor({ timeout: 10000 });
  assert.equal(await page.locator("#shell .shell-status").textContent(), "Starting the simulator…");
  assert.equal(await page.locator("#clock").count(), 0, "the app has not started");
  // Painted while the wasm is still held back (the paint is recorded a frame after the
  // element is in the document, so wait for it).
  await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0, null, { timeout: 10000 });
  assert.equal(await page.locator("#clock").count(), 0, "painted before the app started");
  const before = await regions(page);
  for (const [q, b] of Object.entries(before)) assert.ok(b, `the frame has ${q}`);
  const words = () =>
    page.evaluate(() => {
      const root = document.querySelector("#shell") ?? document.querySelector("main.app");
      const texts = (q) => [...root.querySelectorAll(q)].map((e) => e.textContent.trim());
      return { palette: texts(".palette-item"), header: texts(".header-actions > button, .file-menu > button"), runbar: texts(".runbar button"), tabs: texts(".tabs .tab") };
    });
  const frameWords = await words();
  await screenshot(page, "shell-01-before-wasm");
  // The wasm arrives: the app replaces the frame, region for region.
  page.release();
  await page.locator("#clock").waitFor({ timeout: 30000 });
  assert.equal(await page.locator("#shell").count(), 0, "the frame is gone");
  const after = await regions(page);
  for (const q of Object.keys(before)) {
    before[q].forEach((v, i) => assert.ok(Math.abs(v - after[q][i]) <= 2, `${q}: ${before[q]} then ${after[q]}`));
  }
  // The frame is a copy of the app's first view: the same palette, buttons and tabs (when
  // they change in the app, index.html's frame is copied again).
  assert.deepEqual(frameWords, await words());
  // And it is live: a palette item adds a node.
  await page.locator('.palette-item[data-kind="queue"]').click();
  await page.waitForFunction(() => document.querySelectorAll("g.node").length === 1);
  await screenshot(page, "shell-02-live");
  assert.deepEqual(page.problems, []);
});

test("an embed's first view is the player's frame", async () => {
  const page = await slowWasm("?embed&example=hello&theme=dark", 60000, { width: 640, height: 400 });
  await page.locator("#shell .shell-status").waitFor({ timeout: 10000 });
  const before = await regions(page);
  assert.equal(before[".app-header"], null, "no editor header in a player");
  assert.equal(before[".palette"], null);
  assert.equal(await page.locator("#shell").getAttribute("data-theme"), "dark");
  await screenshot(page, "shell-03-embed-before-wasm");
  page.release();
  await page.locator("#clock").waitFor({ timeout: 30000 });
  const after = await regions(page);
  before[".stage"].forEach((v, i) => assert.ok(Math.abs(v - after[".stage"][i]) <= 2, `stage: ${before[".stage"]} then ${after[".stage"]}`));
  assert.deepEqual(page.problems, []);
});

test("with the network throttled, an example's visit keeps the frame until its document is here, then opens it", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await ctx.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  // A slow network (Chromium's own throttling, not a held route: the cache and the preload
  // behave as on a real link), and the example's document slower still.
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 150, downloadThroughput: 2_000_000, uploadThroughput: 500_000 });
  let release;
  const held = new Promise((r) => (release = r));
  await ctx.route("**/examples/hello.json", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(server.url + "?example=hello", { waitUntil: "domcontentloaded" });
  await page.locator("#shell .shell-status").waitFor({ timeout: 10000 });
  // The wasm arrives and starts; the frame stays up while the document is on its way.
  await page.waitForFunction(() => performance.getEntriesByName("switchboard-start").length > 0, null, { timeout: 60000 });
  await page.waitForFunction(() => document.querySelector("#shell .shell-status").textContent === "Opening the example…");
  assert.equal(await page.locator("#clock").count(), 0, "the app waits for the example");
  await screenshot(page, "shell-04-example-on-its-way");
  release();
  // Then the app takes over with the example open, and it is live: it plays.
  await page.locator('g.node[data-node="audit"]').waitFor({ timeout: 30000 });
  assert.equal(await page.locator("#shell").count(), 0);
  await page.click('button[data-action="play"]');
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 0, null, { timeout: 10000 });
  assert.deepEqual(page.problems, []);
  await ctx.close();
});
