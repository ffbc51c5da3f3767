// Nothing lost and no frozen page, in Chromium: a link shared after live edits replays; an
// example link keeps the saved work one Undo away (and in Recent work); saved work that cannot
// be restored is really kept; a heavy far seek from a host page neither freezes it nor the
// player, shows progress and can be cancelled; and the smaller promises (undoing a first move,
// import notices, the description, long names, `ready` before any step).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { server, browser, useServerAndBrowser, screenshot, artifacts, root, scrubTo } from "./harness.mjs";

useServerAndBrowser();

async function fresh(viewport = { width: 1280, height: 720 }) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await ctx.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  return page;
}

/** Opens the page and waits until saved work has been read (before that, nothing is saved). */
async function open(page, url = server.url) {
  await page.goto(url);
  await page.locator("main.app[data-save]:not([data-save=reading])").waitFor();
}

const nowUs = (page) => page.evaluate(() => Number(document.querySelector("#clock").dataset.nowUs));
const notice = (page) => page.locator("#notice").textContent();

/** Reads a key of the page's IndexedDB store (`switchboard` / `kv`), or null. */
const idbGet = (page, key) =>
  page.evaluate(
    (key) =>
      new Promise((ok, fail) => {
        const req = indexedDB.open("switchboard", 1);
        req.onupgradeneeded = () => req.result.createObjectStore("kv");
        req.onerror = () => fail(req.error);
        req.onsuccess = () => {
          const get = req.result.transaction("kv").objectStore("kv").get(key);
          get.onsuccess = () => {
            req.result.close();
            ok(get.result ?? null);
          };
          get.onerror = () => fail(get.error);
        };
      }),
    key,
  );

/** Writes a key of the page's IndexedDB store. */
const idbPut = (page, key, value) =>
  page.evaluate(
    ([key, value]) =>
      new Promise((ok, fail) => {
        const req = indexedDB.open("switchboard", 1);
        req.onupgradeneeded = () => req.result.createObjectStore("kv");
        req.onerror = () => fail(req.error);
        req.onsuccess = () => {
          const tx = req.result.transaction("kv", "readwrite");
          tx.objectStore("kv").put(value, key);
          tx.oncomplete = () => {
            req.result.close();
            ok();
          };
          tx.onerror = () => fail(tx.error);
        };
      }),
    [key, value],
  );

/** Waits until the autosave in IndexedDB holds a document with these node ids. */
async function savedNodes(page, ids) {
  await page.waitForFunction(
    (ids) =>
      new Promise((ok) => {
        const req = indexedDB.open("switchboard", 1);
        req.onsuccess = () => {
          const get = req.result.transaction("kv").objectStore("kv").get("autosave");
          get.onsuccess = () => {
            req.result.close();
            const nodes = get.result ? JSON.parse(get.result).doc.nodes.map((n) => n.id) : [];
            ok(JSON.stringify(nodes) === JSON.stringify(ids));
          };
          get.onerror = () => ok(false);
        };
        req.onerror = () => ok(false);
      }),
    ids,
    { timeout: 10000 },
  );
}

const snapshot = (page) =>
  page.evaluate(() => ({
    steps: document.querySelector("#clock").dataset.steps,
    now: document.querySelector("#clock").dataset.nowUs,
    tubes: [...document.querySelectorAll(".tube")].map((e) => `${e.dataset.ready}/${e.dataset.unacked}`).join(","),
    counts: [...document.querySelectorAll(".node-face .counts")].map((e) => e.textContent).join("|"),
    kinds: [...document.querySelectorAll(".node-face .kind")].map((e) => e.textContent).join("|"),
    nodes: [...document.querySelectorAll("g.node")].map((e) => e.dataset.node).join(","),
  }));

async function setField(page, field, value) {
  const input = page.locator(`#inspector [data-field="${field}"]`);
  await input.fill(value);
  await input.press("Tab");
}

test("a link shared after live inspector edits and a fault replays the same run", async () => {
  const a = await fresh();
  await open(a, server.url + "?example=amqp-dead-letter");
  await a.locator('g.node[data-node="shop"]').waitFor();
  await a.click('button[data-action="play"]');
  await a.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 300_000);
  // While it runs: the producer's routing key and rate, then a fault.
  await a.locator('g.node[data-node="shop"]').click();
  await setField(a, "routing_key", "order.rush");
  await setField(a, "rate_per_s", "12");
  await a.waitForFunction(() => /producer · 12\/s/.test(document.querySelector('g.node-face[data-face="shop"] .kind').textContent));
  await a.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 900_000);
  await a.locator('g.node[data-node="worker"]').click();
  await a.click('button[data-fault="crash"]');
  await a.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 2_500_000);
  await a.click('button[data-action="pause"]');
  const want = await snapshot(a);
  await a.click('button[data-action="share"]');
  const link = await a.locator("#share-link").inputValue();

  const b = await fresh();
  await open(b, link);
  await b.locator('g.node[data-node="worker"]').waitFor();
  await b.selectOption("#speed", "10");
  await b.click('button[data-action="play"]');
  await b.waitForFunction((t) => Number(document.querySelector("#clock").dataset.nowUs) >= t, Number(want.now), { timeout: 20000 });
  await b.click('button[data-action="pause"]');
  assert.doesNotMatch(await notice(b), /could not be reproduced/);
  await scrubTo(b, want.now);
  assert.deepEqual(await snapshot(b), want, "the same moment of the same run");
  assert.match(want.kinds, /producer · 12\/s/, "the edit is part of the run");
  assert.match(want.kinds, /consumer · DOWN/, "and so is the fault");
  await screenshot(b, "link-after-live-edits");
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await b.context().close();
});

test("an example link keeps saved work one Undo away and in Recent work", async () => {
  const page = await fresh();
  await open(page);
  for (const kind of ["producer", "queue"]) await page.locator(`.palette-item[data-kind="${kind}"]`).click();
  await savedNodes(page, ["producer", "queue"]);
  // The README's own link form, over the saved work.
  await open(page, server.url + "?example=hello");
  await page.locator('g.node[data-node="audit"]').waitFor();
  await page.waitForFunction(() => /earlier work is kept/.test(document.querySelector("#notice").textContent));
  assert.equal(await page.locator('button[data-action="undo"]').isEnabled(), true, "Undo goes back to it");
  assert.ok(
    (await page.locator("#examples optgroup option").allTextContents()).some((t) => /Untitled \(2 nodes\)/.test(t)),
    "it is under Recent work",
  );
  // An edit to the example does not lose it either.
  await page.locator(".palette-item[data-kind=\"sink\"]").click();
  await savedNodes(page, ["orders", "audit", "sink"]);
  await page.keyboard.press("Control+z");
  await page.keyboard.press("Control+z");
  await page.locator('g.node[data-node="queue"]').waitFor();
  assert.equal(await page.locator("g.node").count(), 2, "the saved work is back");
  // And a reload keeps the history that holds it.
  await savedNodes(page, ["producer", "queue"]);
  await open(page);
  await page.locator('g.node[data-node="queue"]').waitFor();
  // A recent document opens from the Open menu, itself undoably.
  const value = await page.locator("#examples optgroup option").first().getAttribute("value");
  await page.selectOption("#examples", value);
  await page.waitForFunction(() => /from recent work/.test(document.querySelector("#notice").textContent));
  await screenshot(page, "recent-work");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("saved work that cannot be restored is really kept, even a few megabytes of it", async () => {
  const page = await fresh();
  await open(page);
  // A corrupt save of about 3 MB, as a damaged disk or a hand edit might leave it.
  const bad = `{"app":"switchboard","kind":"autosave","format":1,"doc":${"x".repeat(3_000_000)}`;
  await idbPut(page, "autosave", bad);
  await open(page);
  await page.locator("#recovery").waitFor();
  assert.match(await page.locator("#recovery").textContent(), /not valid JSON/);
  assert.match(await page.locator("#recovery").textContent(), /copy \(3000\d+ bytes\) is kept/);
  assert.equal((await idbGet(page, "autosave.rejected"))?.length, bad.length, "the copy is really there");
  // New work saves, and the copy stays until it is dismissed.
  await page.locator('.palette-item[data-kind="queue"]').click();
  await savedNodes(page, ["queue"]);
  assert.equal((await idbGet(page, "autosave.rejected"))?.length, bad.length);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click('button[data-action="download-rejected"]')]);
  const path = join(artifacts, "rejected-large-autosave.json");
  await download.saveAs(path);
  assert.equal((await readFile(path, "utf8")).length, bad.length, "it downloads whole");
  await page.click('button[data-action="dismiss-recovery"]');
  await page.waitForFunction(
    () =>
      new Promise((ok) => {
        const req = indexedDB.open("switchboard", 1);
        req.onsuccess = () => {
          const get = req.result.transaction("kv").objectStore("kv").get("autosave.rejected");
          get.onsuccess = () => {
            req.result.close();
            ok(get.result === undefined);
          };
        };
      }),
  );
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("when even a copy cannot be kept, the banner says so and nothing overwrites the save", async () => {
  const page = await fresh();
  // This browser refuses to store the copy (as a full disk would).
  await page.addInitScript(() => {
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (value, key) {
      if (key === "autosave.rejected") throw new DOMException("the disk is full", "QuotaExceededError");
      return put.call(this, value, key);
    };
  });
  await open(page);
  const bad = "{ not json";
  await idbPut(page, "autosave", bad);
  await open(page);
  await page.locator("#recovery").waitFor();
  const text = await page.locator("#recovery").textContent();
  assert.match(text, /could not be copied aside/);
  assert.match(text, /not autosaved until you download it or dismiss this/);
  assert.equal(await page.locator("#recovery").getAttribute("data-kept"), "false");
  await page.locator('.palette-item[data-kind="queue"]').click();
  await page.waitForTimeout(500);
  assert.equal(await idbGet(page, "autosave"), bad, "the original is still there, untouched");
  // Downloaded, it is the user's: autosave goes on.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click('button[data-action="download-rejected"]')]);
  await download.saveAs(join(artifacts, "held-autosave.json"));
  await savedNodes(page, ["queue"]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a heavy far seek from the host page: progress, no frozen page, cancelled by the next command", async () => {
  const page = await fresh({ width: 1000, height: 700 });
  await page.goto(server.url + "embed-demo.html");
  // A page of our own around one player, recording what it posts and how often its own
  // timer gets to run (a frozen page would starve it).
  await page.setContent(`<!doctype html><title>host</title>
    <iframe id="p" src="${server.url}?embed=1&controls=none&example=amqp-ttl" width="800" height="450"></iframe>
    <script>
      window.events = [];
      window.gaps = [];
      let last = performance.now();
      setInterval(() => { const t = performance.now(); window.gaps.push(t - last); last = t; }, 50);
      addEventListener("message", (e) => { if (e.data?.type === "switchboard") window.events.push(e.data); });
      window.send = (m) => document.getElementById("p").contentWindow.postMessage({ type: "switchboard", ...m }, "*");
    </script>`);
  await page.waitForFunction(() => window.events.some((e) => e.event === "ready"), null, { timeout: 15000 });
  const ready = await page.evaluate(() => window.events.find((e) => e.event === "ready"));
  // amqp-ttl has events at time zero: ready comes before them.
  assert.equal(ready.steps, 0, "ready describes the player before any event");
  assert.equal(ready.now_us, 0);
  // 100,000 messages a second.
  await page.evaluate((scenario) =>
    window.send({
      command: "load",
      scenario,
    }),
  FIREHOSE);
  await page.waitForFunction(() => window.events.filter((e) => e.event === "ready").length >= 2);
  await page.evaluate(() => { window.gaps = []; window.send({ command: "seek", at: "1h" }); });
  await page.waitForFunction(() => window.events.filter((e) => e.event === "progress").length >= 3, null, { timeout: 20000 });
  const progress = await page.evaluate(() => window.events.filter((e) => e.event === "progress"));
  assert.ok(progress.every((p) => p.command === "seek" && p.target_us === 3_600_000_000));
  assert.ok(progress.at(-1).now_us > progress[0].now_us, "it moves on");
  const gaps = await page.evaluate(() => window.gaps);
  assert.ok(Math.max(...gaps) < 400, `the host page kept running (longest gap ${Math.max(...gaps).toFixed(0)} ms)`);
  // The next command cancels it; the player is paused where it had got to.
  await page.evaluate(() => window.send({ command: "pause" }));
  await page.waitForFunction(() => window.events.some((e) => e.event === "cancelled"));
  const cancelled = await page.evaluate(() => window.events.find((e) => e.event === "cancelled"));
  assert.equal(cancelled.command, "seek");
  assert.equal(cancelled.running, false);
  assert.ok(cancelled.now_us > 0 && cancelled.now_us < 3_600_000_000);
  // Nothing more comes of it.
  const after = await page.evaluate(() => window.events.filter((e) => e.event === "progress").length);
  await page.waitForTimeout(600);
  assert.equal(await page.evaluate(() => window.events.filter((e) => e.event === "progress").length), after);
  await screenshot(page, "host-far-seek");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

/** A scenario of 100,000 messages a second whose backlog grows without bound. */
const FIREHOSE = {
  version: 2,
  name: "Firehose",
  seed: 1,
  nodes: [
    { id: "firehose", kind: "producer", config: { rate_per_s: 100000, arrival: "constant" } },
    { id: "x", kind: "exchange", config: { type: "fanout" } },
    { id: "q", kind: "queue" },
    { id: "c", kind: "consumer", config: { prefetch_count: 100, processing: "1us" } },
  ],
  edges: [{ from: "firehose", to: "x" }, { from: "x", to: "q" }, { from: "q", to: "c" }],
};

test("the editor's scrubber: a far seek shows progress and Escape stops it", async () => {
  const page = await fresh();
  await open(page);
  const file = join(artifacts, "firehose.switchboard.json");
  await writeFile(file, JSON.stringify(FIREHOSE));
  await page.setInputFiles("#import-file", file);
  await page.locator('g.node[data-node="firehose"]').waitFor();
  await page.selectOption("#speed", "100");
  await page.click('button[data-action="play"]');
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 4_000_000, null, { timeout: 60000 });
  await page.click('button[data-action="pause"]');
  const end = await nowUs(page);
  // To the start, then most of the way back: with a backlog this large, checkpoints are far
  // apart, so this re-simulates hundreds of thousands of events.
  const scrub = (t) =>
    page.evaluate((t) => {
      const s = document.querySelector("#scrubber");
      s.value = t;
      s.dispatchEvent(new Event("input", { bubbles: true }));
    }, t);
  await scrub(0);
  await page.waitForFunction(() => !document.querySelector("#work") && Number(document.querySelector("#clock").dataset.nowUs) === 0, null, { timeout: 30000 });
  const target = Math.floor(end * 0.95);
  await scrub(target);
  await page.locator("#work").waitFor({ timeout: 5000 });
  assert.match(await page.locator("#work").textContent(), /Going to .*%/);
  await screenshot(page, "scrub-progress");
  // The page answers while it works, and Escape stops it where it had got to.
  await page.keyboard.press("Escape");
  await page.locator("#work").waitFor({ state: "detached" });
  const stopped = await nowUs(page);
  assert.ok(stopped < target, `stopped at ${stopped}, before ${target}`);
  assert.match(await notice(page), /Stopped/);
  assert.equal(await page.locator('button[data-action="play"]').isVisible(), true, "paused there");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("small promises: undoing a first move, import notices, the description, long names", async () => {
  const page = await fresh();
  await open(page, server.url + "?example=amqp-dead-letter");
  const worker = page.locator('g.node[data-node="worker"]');
  await worker.waitFor();
  // The description is shown under the canvas.
  const description = JSON.parse(await readFile(join(root, "docs", "examples", "amqp-dead-letter.json"), "utf8")).description;
  assert.equal(await page.locator("#scenario-description").textContent(), description);
  // Undoing the first move of a node the example did not place puts it back.
  const before = await worker.boundingBox();
  await page.mouse.move(before.x + 40, before.y + 12);
  await page.mouse.down();
  await page.mouse.move(before.x + 40, before.y + 160, { steps: 6 });
  await page.mouse.up();
  const moved = await worker.boundingBox();
  assert.ok(Math.abs(moved.y - before.y) > 100, "it moved");
  await page.keyboard.press("Control+z");
  await page.waitForFunction((y) => Math.abs(document.querySelector('g.node[data-node="worker"]').getBoundingClientRect().y - y) < 2, before.y);

  // Importing over an empty canvas does not promise an Undo it cannot give.
  await page.selectOption("#examples", "");
  await page.waitForFunction(() => document.querySelectorAll("g.node").length === 0);
  const file = join(artifacts, "long-names.switchboard.json");
  const long = "payments.settlement.retries.eu-west-1";
  await writeFile(
    file,
    JSON.stringify({
      version: 2,
      nodes: [
        { id: long, kind: "queue", position: { x: 100, y: 100 } },
        { id: "settlement-consumer-number-two", kind: "consumer", position: { x: 260, y: 100 } },
      ],
      edges: [{ from: long, to: "settlement-consumer-number-two" }],
    }),
  );
  await page.setInputFiles("#import-file", file);
  await page.locator("g.node").first().waitFor();
  assert.match(await notice(page), /Opened long-names/);
  assert.doesNotMatch(await notice(page), /Undo/);
  // Long names are cut on the canvas, whole on hover and in the inspector.
  const label = await page.locator(`g.node-face[data-face="${long}"] .name`).textContent();
  assert.ok(label.length < long.length && label.endsWith("…"), label);
  assert.equal(await page.locator(`g.node-face[data-face="${long}"] > title`).textContent(), long);
  const a = await page.locator(`g.node-face[data-face="${long}"] .name`).boundingBox();
  const b = await page.locator('g.node-face[data-face="settlement-consumer-number-two"] .name').boundingBox();
  assert.ok(a.x + a.width < b.x, `the names do not overlap (${a.x + a.width} vs ${b.x})`);
  await page.locator(`g.node[data-node="${long}"]`).click();
  assert.equal(await page.locator('#inspector [data-field="id"]').inputValue(), long);
  await screenshot(page, "long-names");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
