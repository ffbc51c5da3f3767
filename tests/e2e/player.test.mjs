// The embed player, a build of its own (issue 19): a read-only embed downloads the player and
// none of the editor, plays a run exactly as the editor does (trace hashes, and the CLI's), and
// an article with three players downloads it once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { server, browser, useServerAndBrowser, newPage, screenshot, root } from "./harness.mjs";

useServerAndBrowser();

const wasmOf = (page) =>
  page.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name).filter((n) => n.endsWith(".wasm")));

/** Serves at `path` a host page with one player (`#p`) at `?query`, keeping the messages it
 * posts in `window.got`. */
function hostPage(path, query, width, height) {
  server.pages.set(
    path,
    `<!doctype html><html lang="en"><title>Host</title><link rel="icon" href="data:,">
    <script>window.got = []; addEventListener("message", (e) => { if (e.data && e.data.type === "switchboard") window.got.push(e.data); });</script>
    <iframe id="p" title="Player" src="/?${query}" width="${width}" height="${height}"></iframe></html>`,
  );
}

/** The page at `query`, once the wasm has started and its trace hash has been published. */
async function tracedAt(query) {
  const page = await newPage(browser, { width: 800, height: 450 });
  await page.goto(server.url + query);
  await page.locator("g.node").first().waitFor({ timeout: 20000 });
  // `start=3s`: the page seeks there, then stays paused.
  await page.waitForFunction(
    () => document.querySelector("#clock")?.dataset.nowUs === "3000000" && window.switchboardTrace?.events > 0,
    null,
    { timeout: 20000 },
  );
  return page;
}

test("a read-only embed loads the player; an editable embed and the editor load the editor", async () => {
  for (const [query, build, header] of [
    ["?embed=1&example=hello", "player", 0],
    ["?embed=1&readonly=1&example=hello", "player", 0],
    ["?embed=1&editable=1&example=hello", "editor", 0],
    ["?embed=1&editable=1&readonly=1&example=hello", "player", 0],
    ["?example=hello", "editor", 1],
  ]) {
    const page = await newPage(browser, { width: 900, height: 600 });
    await page.goto(server.url + query);
    await page.locator("g.node").first().waitFor({ timeout: 20000 });
    assert.equal(await page.evaluate(() => window.switchboardBuild.name), build, query);
    const wasm = await wasmOf(page);
    assert.equal(wasm.length, 1, `${query}: one wasm downloaded, got ${wasm}`);
    assert.match(wasm[0], build === "player" ? /switchboard-player-[0-9a-f]{16}_bg\.wasm$/ : /switchboard-web-/, query);
    assert.equal(await page.locator(".app-header").count(), header, `${query}: the editor's header`);
    if (query.includes("editable=1&example")) {
      assert.ok((await page.locator(".palette").count()) === 1, "an editable embed has its palette");
    }
    assert.deepEqual(page.problems, [], query);
    await page.close();
  }
});

test("the player plays a run exactly as the editor and the CLI do (trace hashes)", async () => {
  const cli = join(root, "target", "debug", "switchboard");
  const { stdout } = await promisify(execFile)(cli, ["run", join(root, "docs", "examples", "hello.json"), "--until", "3s"]);
  const want = JSON.parse(stdout).trace_hash;
  assert.match(want, /^[0-9a-f]{16}$/);
  const hashes = {};
  for (const [name, query] of [
    ["player", "?embed=1&trace-hash&start=3s&example=hello"],
    ["editor", "?embed=1&editable=1&trace-hash&start=3s&example=hello"],
  ]) {
    const page = await tracedAt(query);
    assert.equal(await page.evaluate(() => window.switchboardBuild.name), name);
    const t = await page.evaluate(() => window.switchboardTrace);
    assert.ok(t.complete, `${name}: the log holds every event`);
    hashes[name] = t.hash;
    await screenshot(page, `player-${name}-at-3s`);
    assert.deepEqual(page.problems, []);
    await page.close();
  }
  assert.equal(hashes.player, hashes.editor, "the two builds played different runs");
  assert.equal(hashes.player, want, "the page's run differs from the CLI's");
});

test("an article with three players downloads the player once and nothing of the editor", async () => {
  const page = await newPage(browser, { width: 900, height: 1500 });
  const frames = ["hello", "amqp-ttl", "hello"]
    .map((e, i) => `<h2>Player ${i + 1}</h2><iframe id="p${i}" src="/?embed=1&example=${e}" title="Player ${i + 1}" width="800" height="420"></iframe>`)
    .join("\n");
  server.pages.set("/three-players.html", `<!doctype html><html lang="en"><title>Three players</title><link rel="icon" href="data:,"><main>${frames}</main></html>`);
  server.requests.length = 0;
  await page.goto(server.url + "three-players.html");
  for (const i of [0, 1, 2]) {
    await page.frameLocator(`#p${i}`).locator("g.node").first().waitFor({ timeout: 30000 });
  }
  const served = server.requests.slice();
  const players = served.filter((p) => /switchboard-player-.*_bg\.wasm$/.test(p));
  const editor = served.filter((p) => /switchboard-web-/.test(p));
  assert.equal(players.length, 1, `the player's wasm was served ${players.length} times: ${served.join(" ")}`);
  assert.deepEqual(editor, [], "nothing of the editor");
  await screenshot(page, "player-three");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("an example is fetched when opened, once, beside the wasm; a failed fetch is said and the canvas is empty", async () => {
  server.requests.length = 0;
  const page = await newPage(browser);
  await page.goto(server.url + "?example=amqp-ttl");
  await page.locator('g.node[data-node="short"]').waitFor({ timeout: 20000 });
  const docs = server.requests.filter((p) => p.startsWith("/examples/"));
  // The loader's preload and the app's fetch are one request.
  assert.deepEqual(docs, ["/examples/amqp-ttl.json"]);
  // The Open menu fetches another when it is chosen.
  await page.selectOption("#examples", "hello");
  await page.locator('g.node[data-node="audit"]').waitFor({ timeout: 10000 });
  assert.deepEqual(server.requests.filter((p) => p.startsWith("/examples/")), ["/examples/amqp-ttl.json", "/examples/hello.json"]);
  assert.deepEqual(page.problems, []);
  await page.close();

  // The server fails it: the page says why and opens the empty canvas.
  const failing = await newPage(browser);
  await failing.route("**/examples/hello.json", (route) => route.fulfill({ status: 503, body: "down" }));
  await failing.goto(server.url + "?example=hello");
  await failing.locator("#notice").waitFor({ timeout: 20000 });
  assert.match(
    await failing.locator("#notice").textContent(),
    /the example "hello" could not be fetched: \/examples\/hello\.json: the server answered 503; starting with an empty canvas/,
  );
  assert.equal(await failing.locator("g.node").count(), 0);
  await failing.close();
});

test("an example that arrives after the user changed the canvas does not replace it", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "?example=amqp-ttl");
  await page.locator('g.node[data-node="short"]').waitFor({ timeout: 20000 });
  let release;
  const held = new Promise((ok) => (release = ok));
  await page.route("**/examples/hello.json", async (route) => {
    await held;
    await route.continue();
  });
  await page.selectOption("#examples", "hello");
  // Meanwhile the user adds a queue: that edit wins over the late document.
  const before = await page.locator("g.node").count();
  await page.locator('.palette-item[data-kind="queue"]').click();
  await page.waitForFunction((n) => document.querySelectorAll("g.node").length === n + 1, before);
  const arrived = page.waitForResponse("**/examples/hello.json");
  release();
  await arrived;
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.equal(await page.locator('g.node[data-node="audit"]').count(), 0, "hello was opened over the user's edit");
  assert.equal(await page.locator("g.node").count(), before + 1);
  assert.equal(await page.locator('g.node[data-node="short"]').count(), 1);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("an embed whose example does not exist tells its host, and takes no tour", async () => {
  hostPage("/host-missing.html", "embed=1&example=nope&tour", 600, 400);
  const page = await newPage(browser);
  await page.goto(server.url + "host-missing.html");
  await page.waitForFunction(() => window.got.some((m) => m.event === "ready"), null, { timeout: 20000 });
  const errors = await page.evaluate(() => window.got.filter((m) => m.event === "error").map((m) => m.message));
  // Only the example's problem: not also "This scenario has no tour".
  assert.deepEqual(errors, ['there is no example "nope"; starting with an empty canvas']);
  assert.match(await page.frameLocator("#p").locator("#notice").textContent(), /there is no example "nope"/);
  await page.close();
});

test("an example that arrives after the page stopped waiting is opened then, in the editor and in an embed with its tour", async () => {
  // Held past the page's 10 s wait: the app starts on the empty canvas, says the example is
  // on its way, and opens it (and takes the tour asked for) when it arrives.
  hostPage("/host-late.html", "embed=1&example=queue-decoupling&tour", 800, 450);
  let release;
  const held = new Promise((ok) => (release = ok));
  const hold = async (route) => {
    await held;
    await route.continue();
  };
  const editor = await newPage(browser);
  await editor.route("**/examples/hello.json", hold);
  const host = await newPage(browser);
  await host.route("**/examples/queue-decoupling.json", hold);
  await Promise.all([editor.goto(server.url + "?example=hello"), host.goto(server.url + "host-late.html")]);
  await editor.locator("#clock").waitFor({ timeout: 30000 });
  assert.match(await editor.locator("#notice").textContent(), /The example "hello" is taking long to arrive: it opens when it does/);
  assert.equal(await editor.locator("g.node").count(), 0);
  const player = host.frameLocator("#p");
  await player.locator("#clock").waitFor({ timeout: 30000 });
  assert.equal(await host.evaluate(() => window.got.filter((m) => m.event === "error").length), 0, "not an error yet");
  release();
  await editor.locator('g.node[data-node="audit"]').waitFor({ timeout: 10000 });
  assert.match(await editor.locator("#notice").textContent(), /The example "hello" arrived: opened it/);
  await screenshot(editor, "player-late-example-opened");
  assert.equal(await editor.locator("#examples").inputValue(), "hello");
  // The embed opened its example and took its tour.
  await player.locator(".tour-panel").waitFor({ timeout: 10000 });
  assert.ok((await player.locator("g.node").count()) > 0);
  assert.deepEqual(editor.problems, []);
  assert.deepEqual(host.problems, []);
  await editor.close();
  await host.close();
});
