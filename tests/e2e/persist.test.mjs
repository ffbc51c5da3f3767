// Autosave, recovery and files in Chromium: work survives a reload with its undo history;
// corrupt or foreign stored data gives a recoverable message (and the data can be downloaded);
// export downloads a scenario the CLI validates; import opens one, or says what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile, access } from "node:fs/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { server, browser, useServerAndBrowser, newPage, screenshot, artifacts, root, scrubTo } from "./harness.mjs";

useServerAndBrowser();

/** Clicks an item of the File menu (opening the menu first). */
async function fileMenu(page, action) {
  if ((await page.locator("#file-menu-button").getAttribute("aria-expanded")) !== "true") await page.click("#file-menu-button");
  await page.click(`button[data-action="${action}"]`);
}

/** The copy of unrestorable saved work that the page keeps in IndexedDB. */
const rejectedCopy = (page) =>
  page.evaluate(
    () =>
      new Promise((ok, fail) => {
        const req = indexedDB.open("switchboard", 1);
        req.onerror = () => fail(req.error);
        req.onsuccess = () => {
          const get = req.result.transaction("kv").objectStore("kv").get("autosave.rejected");
          get.onsuccess = () => ok(get.result ?? null);
          get.onerror = () => fail(get.error);
        };
      }),
  );

async function fresh() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  await page.goto(server.url);
  await page.locator("main.app[data-save=settled]").waitFor();
  return page;
}

test("work and its undo history survive a reload", async () => {
  const page = await fresh();
  for (const kind of ["producer", "queue"]) await page.locator(`.palette-item[data-kind="${kind}"]`).click();
  await page.locator('g.node[data-node="queue"]').click();
  await page.locator('#inspector [data-field="x-message-ttl"]').fill("1500");
  await page.locator('#inspector [data-field="x-message-ttl"]').press("Tab");
  await page.reload();
  await page.locator("#clock").waitFor();
  await page.locator('g.node[data-node="queue"]').waitFor();
  assert.equal(await page.locator("g.node").count(), 2, "both nodes are back");
  assert.match(await page.locator("#notice").textContent(), /Restored your work/);
  await page.locator('g.node[data-node="queue"]').click();
  assert.equal(await page.locator('#inspector [data-field="x-message-ttl"]').inputValue(), "1500");
  // The history came back too: three undos empty the canvas.
  for (let i = 0; i < 3; i++) await page.keyboard.press("Control+z");
  await page.waitForFunction(() => document.querySelectorAll("g.node").length === 0);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("corrupt or foreign saved data: a message, an empty canvas, and the data kept", async () => {
  for (const [bad, why] of [
    ["{ not json", /not valid JSON/],
    [JSON.stringify({ app: "someone-else", data: 1 }), /not a Switchboard autosave/],
    [
      JSON.stringify({ app: "switchboard", kind: "autosave", format: 1, doc: { version: 1, nodes: [{ id: "<b>x</b>", kind: "queue", config: { bogus: 1 } }], edges: [] } }),
      /doc\.nodes\[0\]/,
    ],
  ]) {
    const page = await fresh();
    await page.evaluate((t) => localStorage.setItem("switchboard.autosave", t), bad);
    await page.reload();
    await page.locator("#recovery").waitFor();
    assert.match(await page.locator("#recovery").textContent(), why);
    assert.equal(await page.locator("g.node").count(), 0, "an empty canvas, not a blank page");
    // Left by an earlier build in localStorage: copied aside into IndexedDB, then removed there.
    assert.match(await page.locator("#recovery").textContent(), /A copy \(\d+ bytes\) is kept/);
    assert.equal(await rejectedCopy(page), bad);
    assert.equal(await page.evaluate(() => localStorage.getItem("switchboard.autosave")), null);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click('button[data-action="download-rejected"]'),
    ]);
    const path = join(artifacts, "rejected-autosave.json");
    await download.saveAs(path);
    assert.equal(await readFile(path, "utf8"), bad, "the bad data downloads as it was");
    await screenshot(page, "persist-recovery");
    await page.click('button[data-action="dismiss-recovery"]');
    await page.locator("#recovery").waitFor({ state: "detached" });
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test("export downloads a scenario the CLI runs; import opens it again", async () => {
  const page = await fresh();
  await page.selectOption("#examples", "amqp-dead-letter");
  await page.locator('g.node[data-node="orders.dlq"]').waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), fileMenu(page, "export")]);
  assert.match(download.suggestedFilename(), /\.switchboard\.json$/);
  const path = join(artifacts, download.suggestedFilename());
  await download.saveAs(path);
  const exported = JSON.parse(await readFile(path, "utf8"));
  assert.equal(exported.version, 13);
  assert.ok(exported.nodes.some((n) => n.id === "orders.dlq"));
  assert.ok(exported.view && exported.view.zoom > 0, "the file keeps the view");
  // The same file in the CLI (built by the native tests before these run).
  const cli = join(root, "target", "debug", "switchboard");
  const haveCli = await access(cli).then(() => true, () => false);
  if (haveCli) {
    const { stdout } = await promisify(execFile)(cli, ["validate", path]);
    assert.match(stdout, /ok|valid/i, stdout);
  }
  // Import it into an empty canvas.
  await page.selectOption("#examples", "");
  await page.waitForFunction(() => document.querySelectorAll("g.node").length === 0);
  await page.setInputFiles("#import-file", path);
  await page.locator('g.node[data-node="orders.dlq"]').waitFor();
  assert.match(await page.locator("#notice").textContent(), /Opened/);
  // A broken file is refused with what is wrong and where; the canvas keeps its work.
  const broken = join(artifacts, "broken.switchboard.json");
  await writeFile(broken, JSON.stringify({ version: 1, nodes: [{ id: "q", kind: "queue", config: { "x-overflow": "explode" } }], edges: [] }));
  await page.setInputFiles("#import-file", broken);
  await page.waitForFunction(() => /cannot be opened/.test(document.querySelector("#notice").textContent));
  assert.match(await page.locator("#notice").textContent(), /nodes\[0\]/);
  assert.equal(await page.locator('g.node[data-node="orders.dlq"]').count(), 1, "the work is untouched");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

const snapshot = (page) =>
  page.evaluate(() => ({
    steps: document.querySelector("#clock").dataset.steps,
    now: document.querySelector("#clock").dataset.nowUs,
    tubes: [...document.querySelectorAll(".tube")].map((e) => `${e.dataset.ready}/${e.dataset.unacked}`).join(","),
    windows: [...document.querySelectorAll(".window")].map((e) => e.dataset.unacked).join(","),
    counts: [...document.querySelectorAll(".node-face .counts")].map((e) => e.textContent).join("|"),
    nodes: [...document.querySelectorAll("g.node")].map((e) => e.dataset.node).join(","),
  }));

test("a share link replays the same run, faults included, event for event", async () => {
  const a = await fresh();
  await a.selectOption("#examples", "amqp-dead-letter");
  await a.locator('g.node[data-node="worker"]').waitFor();
  await a.click('button[data-action="play"]');
  await a.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 400_000);
  await a.locator('g.node[data-node="worker"]').click();
  await a.click('button[data-fault="crash"]');
  await a.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 900_000);
  await a.click('button[data-fault="restart"]');
  await a.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 2_000_000);
  await a.click('button[data-action="pause"]');
  const want = await snapshot(a);
  await a.click('button[data-action="share"]');
  const link = await a.locator("#share-link").inputValue();
  assert.match(link, /#s=[A-Za-z0-9_-]+$/);
  await screenshot(a, "share-dialog");

  // In another browser context (another machine, as far as storage goes).
  const b = await fresh();
  await b.goto(link);
  await b.locator('g.node[data-node="worker"]').waitFor();
  assert.match(await b.locator("#notice").textContent(), /shared run/);
  await b.selectOption("#speed", "10");
  await b.click('button[data-action="play"]');
  await b.waitForFunction((t) => Number(document.querySelector("#clock").dataset.nowUs) >= t, Number(want.now));
  await b.click('button[data-action="pause"]');
  await scrubTo(b, want.now);
  assert.deepEqual(await snapshot(b), want, "the same moment of the same run");
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await b.context().close();
});

/** The world point at the middle of the stage, and the zoom, read off the SVG transform. */
const centre = (page) =>
  page.evaluate(() => {
    const stage = document.querySelector("section.stage");
    const t = document.querySelector("#topology > g").getAttribute("transform");
    const [dx, dy, s] = t.match(/-?[\d.]+(e-?\d+)?/g).map(Number);
    return { x: (stage.clientWidth / 2 - dx) / s, y: (stage.clientHeight / 2 - dy) / s, zoom: s };
  });

test("a link keeps its view: the same point in the middle, at the same zoom, on a smaller screen", async () => {
  const a = await fresh();
  await a.selectOption("#examples", "amqp-dead-letter");
  await a.locator('g.node[data-node="worker"]').waitFor();
  // Zoom in on the worker and pan a little, as a user framing a detail would.
  const fitted = await centre(a);
  const box = await a.locator('g.node[data-node="worker"]').boundingBox();
  await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let i = 0; i < 3; i++) await a.mouse.wheel(0, -240);
  await a.waitForFunction((z) => !document.querySelector("#topology > g").getAttribute("transform").endsWith(`scale(${z})`), fitted.zoom);
  const want = await centre(a);
  await a.click('button[data-action="share"]');
  const link = await a.locator("#share-link").inputValue();

  const ctx = await browser.newContext({ viewport: { width: 760, height: 560 } });
  const b = await ctx.newPage();
  b.problems = [];
  b.on("pageerror", (e) => b.problems.push(e.message));
  await b.goto(link);
  await b.locator('g.node[data-node="worker"]').waitFor();
  // The link's view is applied once the canvas has its size, which can be a frame after the
  // nodes appear on a loaded machine: wait for the zoom (or 3 s), then check it exactly.
  let got = await centre(b);
  for (let i = 0; i < 30 && Math.abs(got.zoom - want.zoom) >= 0.002; i++) {
    await b.waitForTimeout(100);
    got = await centre(b);
  }
  assert.ok(Math.abs(got.x - want.x) < 1 && Math.abs(got.y - want.y) < 1, `centre ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  assert.ok(Math.abs(got.zoom - want.zoom) < 0.002, `zoom ${got.zoom} vs ${want.zoom}`);
  await screenshot(b, "link-view-small-screen");
  // F fits the topology again (a single-key shortcut: on the canvas).
  await b.locator("#stage").focus();
  await b.keyboard.press("f");
  await b.waitForFunction((z) => {
    const t = document.querySelector("#topology > g").getAttribute("transform");
    return !t.endsWith(`scale(${z})`);
  }, got.zoom);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await ctx.close();
});

test("bad links and hostile names: a clear message, text not markup, no panic", async () => {
  for (const [fragment, why] of [
    ["#s=%%%", /not valid base64/],
    ["#s=AAAAAAAA", /does not decompress/],
    ["#x=1", /carries no scenario/],
  ]) {
    const page = await fresh();
    await page.goto(server.url + "?" + fragment.length + fragment);
    await page.locator("#notice").waitFor();
    assert.match(await page.locator("#notice").textContent(), /This link cannot be opened/);
    assert.match(await page.locator("#notice").textContent(), why);
    assert.equal(await page.locator("#fatal-error").isHidden(), true);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
  // A hostile node name arrives through a file (the same parser reads links).
  const page = await fresh();
  const hostile = '<img src=x onerror="window.pwned=1">';
  const file = join(artifacts, "hostile.switchboard.json");
  await writeFile(file, JSON.stringify({ version: 1, name: "<script>window.pwned=2</script>", nodes: [{ id: hostile, kind: "queue" }], edges: [] }));
  await page.setInputFiles("#import-file", file);
  await page.locator("g.node").waitFor();
  assert.equal(await page.locator("g.node-face > title").textContent(), hostile, "shown as text");
  assert.equal(await page.locator("g.node-face .name").textContent(), hostile.slice(0, 15) + "…", "cut on the canvas");
  assert.equal(await page.evaluate(() => document.querySelectorAll("img").length), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a RabbitMQ definitions.json imports, with what is not modelled reported, and exports", async () => {
  const page = await fresh();
  const defs = {
    rabbit_version: "4.1.0",
    users: [{ name: "guest" }],
    policies: [{ name: "ttl", pattern: ".*" }],
    queues: [
      { name: "orders", vhost: "/", durable: true, auto_delete: false, arguments: { "x-queue-type": "quorum", "x-delivery-limit": 3, "x-dead-letter-exchange": "dlx" } },
      { name: "orders.dlq", vhost: "/", durable: true, auto_delete: false, arguments: { "x-queue-mode": "lazy" } },
    ],
    exchanges: [
      { name: "shop", vhost: "/", type: "topic", durable: true, auto_delete: false, internal: false, arguments: {} },
      { name: "dlx", vhost: "/", type: "fanout", durable: true, auto_delete: false, internal: false, arguments: {} },
    ],
    bindings: [
      { source: "shop", vhost: "/", destination: "orders", destination_type: "queue", routing_key: "order.#", arguments: {} },
      { source: "dlx", vhost: "/", destination: "orders.dlq", destination_type: "queue", routing_key: "", arguments: {} },
    ],
  };
  const file = join(artifacts, "definitions-in.json");
  await writeFile(file, JSON.stringify(defs));
  await page.setInputFiles("#import-file", file);
  await page.locator('g.node[data-node="orders.dlq"]').waitFor();
  const notice = await page.locator("#notice").textContent();
  assert.match(notice, /4 exchanges and queues, 2 bindings/);
  for (const part of ["users", "policies", "x-queue-mode"]) assert.ok(notice.includes(part), `${part} reported: ${notice}`);
  assert.equal(await page.locator("g.edge.binding .edge-label").first().textContent(), "order.#");
  await screenshot(page, "definitions-imported");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    fileMenu(page, "export-definitions"),
  ]);
  assert.equal(download.suggestedFilename(), "definitions.json");
  const path = join(artifacts, "definitions-out.json");
  await download.saveAs(path);
  const out = JSON.parse(await readFile(path, "utf8"));
  assert.deepEqual(out.queues.map((q) => q.name).sort(), ["orders", "orders.dlq"]);
  assert.equal(out.queues.find((q) => q.name === "orders").arguments["x-delivery-limit"], 3);
  assert.deepEqual(out.bindings.map((b) => `${b.source}->${b.destination}:${b.routing_key}`).sort(), ["dlx->orders.dlq:", "shop->orders:order.#"]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("pictures: the canvas as SVG and as PNG", async () => {
  const page = await fresh();
  await page.selectOption("#examples", "hello");
  await page.locator('g.node[data-node="audit"]').waitFor();
  await page.click('button[data-action="play"]');
  await page.waitForFunction(() => Number(document.querySelector("#flights").dataset.inFlight) > 0, null, { timeout: 10000 });
  await page.click('button[data-action="pause"]');
  const [svgDownload] = await Promise.all([page.waitForEvent("download"), fileMenu(page, "export-svg")]);
  assert.match(svgDownload.suggestedFilename(), /\.svg$/);
  const svgPath = join(artifacts, "picture.svg");
  await svgDownload.saveAs(svgPath);
  const svg = await readFile(svgPath, "utf8");
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<style>[^<]*\.node/, "it carries the page's rules");
  assert.match(svg, /--sink:/, "and the theme's values");
  assert.ok(svg.includes(">audit<"), "the nodes are in it");
  assert.match(svg, /<circle cx="[\d.]+" cy="[\d.]+" r="5"/, "and the messages in flight");
  assert.equal(await page.locator("#file-menu-button").getAttribute("aria-expanded"), "false", "the menu closed");
  const [pngDownload] = await Promise.all([page.waitForEvent("download"), fileMenu(page, "export-png")]);
  const pngPath = join(artifacts, "picture.png");
  await pngDownload.saveAs(pngPath);
  const png = await readFile(pngPath);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "a PNG");
  assert.ok(png.length > 5000, `a real picture (${png.length} bytes)`);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a short WebM recording of the running view", async () => {
  const page = await fresh();
  await page.selectOption("#examples", "hello");
  await page.locator('g.node[data-node="audit"]').waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 20000 }),
    fileMenu(page, "record"),
  ]);
  assert.match(download.suggestedFilename(), /\.webm$/);
  const path = join(artifacts, "recording.webm");
  await download.saveAs(path);
  const webm = await readFile(path);
  assert.deepEqual([...webm.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], "an EBML (WebM) file");
  assert.ok(webm.length > 2000, `it has frames (${webm.length} bytes)`);
  assert.match(await page.locator("#notice").textContent(), /Saved the recording/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("an oversized file is refused by size, and the work stays", async () => {
  const page = await fresh();
  await page.locator('.palette-item[data-kind="queue"]').click();
  const big = join(artifacts, "oversized.switchboard.json");
  await writeFile(big, JSON.stringify({ version: 1, description: "x".repeat(5 * 1024 * 1024), nodes: [], edges: [] }));
  await page.setInputFiles("#import-file", big);
  await page.waitForFunction(() => /bytes; a scenario is at most/.test(document.querySelector("#notice").textContent));
  assert.equal(await page.locator('g.node[data-node="queue"]').count(), 1, "the work is untouched");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
