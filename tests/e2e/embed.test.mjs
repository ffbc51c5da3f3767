// Embed mode in Chromium: the demo article page with two players (one autoplaying, one driven
// by the host page's buttons through postMessage), the Embed dialog's snippet, and origins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { server, browser, useServerAndBrowser, newPage, screenshot } from "./harness.mjs";

useServerAndBrowser();

const count = (page, event) =>
  page.evaluate((e) => Number(document.getElementById("events").dataset[e] || 0), event);

test("the demo article's players: one plays itself, one obeys the host page", async () => {
  const page = await newPage(browser, { width: 1100, height: 1400 });
  await page.goto(server.url + "embed-demo.html");
  await page.waitForFunction(() => Number(document.getElementById("events").dataset.ready || 0) >= 1, null, {
    timeout: 15000,
  });
  // The autoplaying player: messages move, and it shows no controls.
  const auto = page.frameLocator("#auto");
  await auto.locator("#flights").waitFor();
  await page.waitForFunction(
    () => Number(document.getElementById("auto").contentDocument.querySelector("#flights")?.dataset.inFlight) > 0,
    null,
    { timeout: 15000 },
  );
  assert.equal(await auto.locator(".runbar").count(), 0, "controls=none");
  assert.equal(await auto.locator(".palette").count(), 0, "read-only: no palette");
  assert.equal(await auto.locator("circle.port").count(), 0, "read-only: no connection handles");
  const box = await auto.locator('g.node[data-node="worker"]').boundingBox();
  const other = await auto.locator('g.node[data-node="shop"]').boundingBox();
  await page.mouse.move(box.x + 30, box.y + 10);
  await page.mouse.down();
  await page.mouse.move(box.x + 130, box.y + 110, { steps: 5 });
  await page.mouse.up();
  const moved = await auto.locator('g.node[data-node="worker"]').boundingBox();
  const otherMoved = await auto.locator('g.node[data-node="shop"]').boundingBox();
  assert.ok(Math.abs(moved.x - box.x - 100) < 2, "the view moved with the drag");
  assert.ok(Math.abs(otherMoved.x - other.x - 100) < 2, "all of it: a pan, not a node move");
  await auto.locator('g.node[data-node="worker"]').focus();
  await page.keyboard.press("Delete");
  assert.equal(await auto.locator('g.node[data-node="worker"]').count(), 1, "Delete does nothing");

  // The driven player: play, pause, step, seek, load, and a bad command.
  await page.click("#host-play");
  await page.waitForFunction(() => window.lastTime && window.lastTime.now_us > 300000, null, { timeout: 10000 });
  await page.click("#host-pause");
  const steps = await count(page, "step");
  await page.click("#host-step");
  await page.waitForFunction((n) => Number(document.getElementById("events").dataset.step || 0) > n, steps);
  await page.click("#host-seek");
  await page.waitForFunction(() => window.lastTime && window.lastTime.now_us === 1000000, null, { timeout: 10000 });
  const readies = await count(page, "ready");
  await page.click("#host-load");
  await page.waitForFunction((n) => Number(document.getElementById("events").dataset.ready || 0) > n, readies);
  await page.frameLocator("#driven").locator('g.node[data-node="jobs"]').waitFor();
  await page.click("#host-bad");
  await page.waitForFunction(() => /error .*unknown command/.test(document.getElementById("events").textContent));
  await screenshot(page, "embed-demo");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("the Embed dialog writes a snippet and a link that open the same run as a player", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "?example=amqp-exchange-types");
  await page.locator("#clock").waitFor();
  await page.click('button[data-action="embed"]');
  const snippet = () => page.locator("#embed-snippet").inputValue();
  assert.match(await snippet(), /^<iframe src="[^"]*\?embed=1[^"]*#s=[A-Za-z0-9_-]+" title="Switchboard: /);
  await page.locator("#embed-autoplay").check();
  assert.match(await snippet(), /autoplay=1/);
  await page.locator("#embed-loop").check();
  assert.match(await snippet(), /end=10000ms&amp;loop=1/);
  await screenshot(page, "embed-dialog");
  const link = await page.locator("#embed-link").inputValue();
  const player = await newPage(browser, { width: 800, height: 450 });
  await player.goto(link);
  await player.locator("g.node").first().waitFor();
  assert.equal(await player.locator(".app.embed").count(), 1);
  assert.equal(await player.locator(".app-header").count(), 0, "a compact player");
  await player.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 0, null, {
    timeout: 10000,
  });
  const names = (p) => p.evaluate(() => [...document.querySelectorAll("g.node")].map((e) => e.dataset.node).join(","));
  assert.equal(await names(player), await names(page));
  assert.deepEqual(player.problems, []);
  await page.close();
  await player.close();
});

test("commands from an origin other than the configured one are ignored", async () => {
  const post = (p) => p.evaluate(() => window.postMessage({ type: "switchboard", command: "seek", at: "2s" }, "*"));
  const open = async (q) => {
    const p = await newPage(browser);
    await p.goto(server.url + q);
    await p.locator("#clock").waitFor();
    return p;
  };
  const strict = await open("?embed=1&origin=https://docs.example.org&example=hello");
  await post(strict);
  await strict.waitForTimeout(300);
  assert.equal(await strict.locator("#clock").getAttribute("data-now-us"), "0", "ignored");
  const open_ = await open("?embed=1&example=hello");
  await post(open_);
  await open_.waitForFunction(() => document.querySelector("#clock").dataset.nowUs === "2000000");
  // Bad options are named in the page, and the player still works.
  const bad = await open("?embed=1&speed=9000&example=hello");
  await bad.locator("#notice").waitFor();
  assert.match(await bad.locator("#notice").textContent(), /speed=/);
  for (const p of [strict, open_, bad]) {
    assert.deepEqual(p.problems, []);
    await p.close();
  }
});

test("start, speed and end options", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "?embed=1&start=2s&speed=10&end=4s&example=hello");
  await page.locator("#clock").waitFor();
  await page.waitForFunction(() => document.querySelector("#clock").dataset.nowUs === "2000000");
  assert.equal(await page.locator("#speed").inputValue(), "10");
  await page.click('button[data-action="play"]');
  // At 10× the two simulated seconds to `end` take about 0.2 s; then it pauses exactly there.
  await page.waitForFunction(() => document.querySelector("#clock").dataset.nowUs === "4000000", null, { timeout: 10000 });
  await page.locator('button[data-action="play"]').waitFor();
  assert.deepEqual(page.problems, []);
  await page.close();
});
