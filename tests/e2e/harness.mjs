// Shared end-to-end harness: serves dist/ on loopback and launches Debian's Chromium through
// playwright-core (which never downloads a browser of its own).
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { extname, join, normalize, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { before, after } from "node:test";

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
export const dist = join(root, "dist");
export const artifacts = join(here, "artifacts");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".wasm": "application/wasm",
  ".css": "text/css",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** A file named after its contents (trunk's `name-<hash>.ext`, the player's too): cacheable
 * for good, as a real host would serve it. */
const HASHED = /-[0-9a-f]{8,}(_bg)?\.(js|wasm|css|svg)$/;

/** Serves `dir` on 127.0.0.1 at a free port. Resolves to { url, close, requests, pages }:
 * `requests` lists the path of every request served, in order (a test may empty it); `pages`
 * maps a path to an HTML page served in place of a file (a host page a test writes; routing
 * it through the browser instead would turn the browser's cache off). */
export async function serve(dir = dist) {
  const requests = [];
  const pages = new Map();
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    requests.push(path);
    if (pages.has(path)) {
      res.writeHead(200, { "content-type": TYPES[".html"], "cache-control": "no-cache" });
      res.end(pages.get(path));
      return;
    }
    const file = join(dir, path.endsWith("/") ? path + "index.html" : path);
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const cache = HASHED.test(file) ? "public, max-age=31536000, immutable" : "no-cache";
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": cache, "content-length": body.length });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, requests, pages, close: () => new Promise((ok) => server.close(ok)) };
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A new page that records console errors and uncaught exceptions into `page.problems`. */
export async function newPage(browser, viewport = { width: 1280, height: 720 }) {
  const page = await browser.newPage({ viewport });
  page.problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  return page;
}

/** A page in a context of its own (`options`: viewport, colorScheme, reducedMotion…) at
 * `query`, recording errors into `page.problems`; resolves once `ready` is in the page. */
export async function openInContext(query = "", options = {}, ready = "#clock") {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, ...options });
  const page = await ctx.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && page.problems.push(m.text()));
  await page.goto(server.url + query);
  await page.locator(ready).waitFor({ timeout: 15000 });
  return page;
}

export async function screenshot(page, name) {
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}

/** Plays at `speed` until the clock passes `seconds` of simulated time, then pauses. */
export async function runTo(page, seconds, { speed = 10, timeout = 60000 } = {}) {
  await page.selectOption("#speed", String(speed));
  await page.click('button[data-action="play"]');
  await page.waitForFunction((t) => Number(document.querySelector("#clock").dataset.nowUs) > t, seconds * 1e6, { timeout });
  await page.click('button[data-action="pause"]');
}

/** Moves the playground's scrubber to `us` (microseconds, as text), as a drag would, and
 * resolves once the clock shows it and two frames have drawn it. */
export async function scrubTo(page, us) {
  await page.evaluate((t) => {
    const s = document.querySelector("#scrubber");
    s.value = t;
    s.dispatchEvent(new Event("input", { bubbles: true }));
  }, us);
  await page.waitForFunction((t) => document.querySelector("#clock").dataset.nowUs === t, us);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** The server and browser of the current test file, set by `useServerAndBrowser()` (ES module
 * bindings are live, so importers see them once the `before` hook has run). */
export let server;
export let browser;

/** Serves dist/ and launches Chromium before the file's tests, and closes both after. */
export function useServerAndBrowser() {
  before(async () => {
    server = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
}

const AXE_SOURCE = new URL("./node_modules/axe-core/axe.min.js", import.meta.url);

/** Runs axe-core (pinned in package.json) on the page as it is now, over WCAG 2.0 and 2.1 A
 * and AA and axe's best practices, and resolves to its violations as short lines (rule,
 * impact, the first targets and what axe says is wrong), empty when there are none. */
export async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.addScriptTag({ path: fileURLToPath(AXE_SOURCE) });
  }
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}: ${n.failureSummary.replace(/\s+/g, " ").slice(0, 240)}`),
      count: v.nodes.length,
    }));
  });
  return violations.map((v) => `${v.id} (${v.impact}, ${v.count}): ${v.nodes.join(" | ")}`);
}

/** The centre of `locator`'s box on screen (it must be on screen). */
export async function centreOf(locator) {
  const b = await locator.boundingBox();
  if (!b) throw new Error("the element is not on screen");
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** Drags a palette item of `kind` (and exchange `type`) onto the canvas at (x, y), with real
 * pointer events, scrolling the palette to the item first. */
export async function dragFromPalette(page, kind, type, x, y) {
  const sel = type ? `.palette-item[data-kind="${kind}"][data-type="${type}"]` : `.palette-item[data-kind="${kind}"]`;
  // The palette scrolls: the later models' items are below its fold.
  await page.locator(sel).scrollIntoViewIfNeeded();
  const from = await centreOf(page.locator(sel));
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(x, y, { steps: 12 });
  await page.mouse.up();
}

/** Selects node `name` (a click on its face) and types `value` into its inspector field
 * `field`, committing it with Tab. */
export async function setField(page, name, field, value) {
  const c = await centreOf(page.locator(`g.node[data-node="${name}"]`));
  await page.mouse.click(c.x, c.y - 20);
  const input = page.locator(`#inspector [data-field="${field}"]`);
  await input.click();
  await input.fill(value);
  await input.press("Tab");
}

/** Drags from node `from`'s connection handle to node `to`; resolves to what the cursor's tip
 * said just before the drop. */
export async function connectNodes(page, from, to) {
  const a = await centreOf(page.locator(`circle[data-port="${from}"]`));
  const b = await centreOf(page.locator(`g.node[data-node="${to}"]`));
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 12 });
  const tip = await page.locator("#cursor-tip").textContent();
  await page.mouse.up();
  return tip;
}
