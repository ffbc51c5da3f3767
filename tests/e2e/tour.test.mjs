// Guided tours, as a newcomer takes one: by keyboard alone, from "Take the tour" through every
// step (a step that waits for the user's action, "Show me", Back to a step as it was), to
// "Try it yourself", which leaves the run where it is for the user to change. Screenshots in
// artifacts/ (tour-*.png).
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, openInContext, axe, screenshot } from "./harness.mjs";

useServerAndBrowser();

const status = (page) => page.locator(".tour-status").textContent();

/** Waits until the step shown has stopped where it stops. */
async function arrived(page) {
  await page.waitForFunction(() => document.querySelector(".tour-status")?.textContent.startsWith("Stopped"), null, { timeout: 60000 });
}

/** The numbers of the step's figure, by label. */
async function numbers(page) {
  return page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll(".tour-number")].map((n) => [n.querySelector("dt").textContent, n.querySelector("dd").textContent])),
  );
}

/** Presses a tour button by keyboard: Tab moves the focus onto it, Enter presses it. */
async function press(page, action) {
  const target = page.locator(`[data-action="${action}"]`);
  for (let i = 0; i < 12 && !(await target.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  assert.ok(await target.evaluate((el) => el === document.activeElement), `Tab reaches ${action}`);
  await page.keyboard.press("Enter");
}

test("a tour taken by keyboard: every step, an action shown, Back, and Try it yourself", async () => {
  const page = await openInContext("?example=queue-decoupling", {}, "#stage");
  await page.locator('[data-action="tour-start"]').focus();
  await page.keyboard.press("Enter");
  await page.locator(".tour-panel").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "tour-title", "the step's title has the focus");
  assert.equal(await page.locator("#tour-progress-text").textContent(), "Step 1 of 4");
  // What the step points at is outlined on the canvas, and said in its name.
  assert.equal(await page.locator("g.node.tour-lit").count(), 3);
  assert.match(await page.locator('g.node[data-node="invoices"]').getAttribute("aria-label"), /shown by the tour/);
  await arrived(page);
  assert.equal(await page.locator("#clock").getAttribute("data-now-us"), "5000000", "step 1 stops at 5 s exactly");
  const first = await numbers(page);
  assert.ok(Number(first["shop-2 (queue)"]) > 50, JSON.stringify(first));
  assert.deepEqual(await axe(page), [], "the tour panel passes axe");
  await screenshot(page, "tour-01-first-step");

  // Step 2 waits for the user: the run stays paused until billing-2 is crashed.
  await press(page, "tour-next");
  await page.waitForFunction(() => document.querySelector("#tour-progress-text")?.textContent === "Step 2 of 4");
  assert.equal(await status(page), "Waiting for you");
  assert.equal(await page.locator(".tour-prompt").textContent(), "Crash billing-2");
  await page.waitForTimeout(300);
  assert.equal(await page.locator("#clock").getAttribute("data-now-us"), "5000000", "waiting: the run does not move");
  await press(page, "tour-show-me");
  await arrived(page);
  const down = await numbers(page);
  assert.ok(Number(down["shop: orders failed"]) > 20, JSON.stringify(down));
  assert.equal(down["shop-2: orders failed"], "0");
  assert.ok(Number(down["invoices waiting in the queue"]) > 20, JSON.stringify(down));
  assert.match(await page.locator('g.node[data-node="billing-2"]').getAttribute("aria-label"), /down/i);
  await screenshot(page, "tour-02-shown");

  // Step 3's action done by hand, from the inspector, counts as done.
  await press(page, "tour-next");
  await page.waitForFunction(() => document.querySelector("#tour-progress-text")?.textContent === "Step 3 of 4");
  assert.equal(await status(page), "Waiting for you");
  await page.locator('g.node[data-node="billing-2"]').focus();
  await page.keyboard.press("Enter");
  await page.locator('button[data-fault="restart"]').focus();
  await page.keyboard.press("Enter");
  await arrived(page);
  assert.equal(await page.locator("#clock").getAttribute("data-now-us"), "11000000");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "tour-title", "the focus is back on the tour");

  await press(page, "tour-next");
  await arrived(page);
  assert.equal(await page.locator("#tour-progress-text").textContent(), "Step 4 of 4");
  const end = await numbers(page);
  assert.equal(end["shop-2 (queue): orders failed"], "0");
  assert.equal(end["invoices still waiting"], "0");
  assert.ok(Number(end["shop (HTTP call): orders failed"]) > 20, JSON.stringify(end));
  assert.equal(await page.locator('[data-action="tour-next"]').textContent(), "Finish");
  await screenshot(page, "tour-03-last-step");

  // Back: step 3 as it was where it stopped.
  await press(page, "tour-back");
  await page.waitForFunction(() => document.querySelector("#tour-progress-text")?.textContent === "Step 3 of 4");
  assert.equal(await page.locator("#clock").getAttribute("data-now-us"), "11000000");
  assert.equal(await status(page), "Stopped at 11.000s");
  // Back once more: step 2 where it stopped, before the restart done at that same moment.
  await press(page, "tour-back");
  await page.waitForFunction(() => document.querySelector("#tour-progress-text")?.textContent === "Step 2 of 4");
  assert.equal(await page.locator("#clock").getAttribute("data-now-us"), "10000000");
  assert.match(await page.locator('g.node[data-node="billing-2"]').getAttribute("aria-label"), /down/i, "not restarted yet");
  // And on again: the restart done by hand is in the run's log, so step 3 does not wait.
  await press(page, "tour-next");
  await arrived(page);
  assert.equal(await page.locator("#tour-progress-text").textContent(), "Step 3 of 4");
  assert.doesNotMatch(await page.locator('g.node[data-node="billing-2"]').getAttribute("aria-label"), /\bdown\b/i);
  await press(page, "tour-next");
  await arrived(page);
  assert.equal(await page.locator("#tour-progress-text").textContent(), "Step 4 of 4");
  assert.deepEqual(await numbers(page), end, "the same run, the same numbers");

  // Try it yourself: the panel goes, the palette is back, the run stays where it is.
  await press(page, "tour-try");
  await page.locator(".tour-panel").waitFor({ state: "detached" });
  assert.equal(await page.locator(".palette").count(), 1);
  assert.equal(await page.locator("#clock").getAttribute("data-now-us"), "16000000");
  assert.equal(await page.locator("g.node.tour-lit").count(), 0);
  // Said through the live region (which speaks at most every 1.5 s).
  await page.waitForFunction(() => /yours from 16\.000s/.test(document.querySelector("#announcer").textContent));
  assert.equal(await page.locator('[data-action="tour-start"]').count(), 1, "the tour can be taken again");
  assert.deepEqual(page.problems, []);
});

test("an example without a tour offers none, and Escape leaves a tour", async () => {
  const page = await openInContext("?example=hello", {}, "#stage");
  assert.equal(await page.locator('[data-action="tour-start"]').count(), 0);
  await page.selectOption("#examples", "http-retry-storm");
  await page.locator('[data-action="tour-start"]').click();
  await page.locator(".tour-panel").waitFor();
  // A long step plays faster than 1× (18 s of it here), so that it can be watched in a few
  // seconds; leaving the tour gives the reader's own speed back.
  await press(page, "tour-next");
  await page.waitForFunction(() => document.querySelector("#tour-progress-text")?.textContent === "Step 2 of 4");
  await press(page, "tour-next");
  await page.waitForFunction(() => document.querySelector("#tour-progress-text")?.textContent === "Step 3 of 4");
  await page.waitForFunction(() => Number(document.querySelector("#speed").value) > 1);
  await page.keyboard.press("Escape");
  await page.locator(".tour-panel").waitFor({ state: "detached" });
  await page.waitForFunction(() => Number(document.querySelector("#speed").value) === 1);
  assert.deepEqual(page.problems, []);
});

test("a tour embedded at a step in the demo article, and driven through postMessage", async () => {
  const { server, browser } = await import("./harness.mjs");
  const page = await browser.newPage({ viewport: { width: 1100, height: 1600 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(server.url + "embed-demo.html");
  const frame = page.frameLocator("#tour");
  await frame.locator(".tour-panel").waitFor({ timeout: 15000 });
  // Opened at step 2: step 1 has been taken (the run is where it stopped), and step 2 waits.
  assert.equal(await frame.locator("#tour-progress-text").textContent(), "Step 2 of 4");
  assert.equal(await frame.locator(".tour-status").textContent(), "Waiting for you");
  assert.equal(await frame.locator("#clock").getAttribute("data-now-us"), "5000000");
  await frame.locator('[data-action="tour-show-me"]').focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(
    () => document.getElementById("tour").contentDocument.querySelector(".tour-status")?.textContent.startsWith("Stopped"),
    null,
    { timeout: 30000 },
  );
  assert.equal(await frame.locator("#clock").getAttribute("data-now-us"), "10000000");
  await screenshot(page, "tour-04-embedded");
  // The host page asks for the last step; the player answers with the step's numbers.
  const event = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const player = document.getElementById("tour");
        window.addEventListener("message", (e) => {
          if (e.source === player.contentWindow && e.data?.event === "tour_step" && e.data.step === 4) resolve(e.data);
        });
        player.contentWindow.postMessage({ type: "switchboard", command: "tour", step: 4 }, window.location.origin);
      }),
  );
  assert.equal(event.of, 4);
  assert.equal(event.now_us, 16000000);
  const byLabel = Object.fromEntries(event.readings.map((r) => [r.label, r.value]));
  assert.equal(byLabel["shop-2 (queue): orders failed"], 0);
  assert.ok(byLabel["shop (HTTP call): orders failed"] > 20, JSON.stringify(event.readings));
  assert.deepEqual(problems, []);
  await page.close();
});

test("the start screen: stories as cards on a first visit, one taken by keyboard, and not on a return", async () => {
  const page = await openInContext("", {}, ".start-screen");
  const cards = page.locator(".story-card");
  assert.ok((await cards.count()) >= 4);
  const first = await page.locator(".story-card").first();
  assert.match(await first.locator(".story-promise").textContent(), /\w/);
  assert.deepEqual(await axe(page), [], "the start screen passes axe");
  await screenshot(page, "tour-05-start-screen");
  // Keyboard: Tab from the header reaches the cards; Enter takes the story's tour.
  const card = page.locator('.story-card[data-story="queue-decoupling"]');
  for (let i = 0; i < 60 && !(await card.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  assert.ok(await card.evaluate((el) => el === document.activeElement), "Tab reaches the card");
  await page.keyboard.press("Enter");
  await page.locator(".tour-panel").waitFor();
  assert.equal(await page.locator("#tour-title").textContent(), "The same work, two ways");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "tour-title");
  assert.equal(await page.locator(".start-screen").count(), 0, "the canvas has the story now");
  await arrived(page);
  // Every step by keyboard: Next (which does a waiting step's action, as Show me would) until
  // the last, each stopping where it stops.
  for (let step = 2; step <= 4; step++) {
    await press(page, "tour-next");
    await page.waitForFunction((n) => document.querySelector("#tour-progress-text")?.textContent === `Step ${n} of 4`, step);
    if ((await status(page)) === "Waiting for you") await press(page, "tour-next");
    await arrived(page);
  }
  assert.equal(await page.locator('[data-action="tour-next"]').textContent(), "Finish");
  // Leave it, and come back: the work is restored where it was left, without the start screen.
  await press(page, "tour-try");
  await page.waitForFunction(() => document.querySelector("main.app")?.dataset.save === "settled");
  await page.waitForTimeout(400);
  await page.reload();
  await page.locator('g.node[data-node="billing-2"]').waitFor();
  assert.equal(await page.locator(".start-screen").count(), 0);
  assert.deepEqual(page.problems, []);
});

test("a swept figure: throughput against prefetch, as a chart with its numbers in a table", async () => {
  const page = await openInContext("?example=amqp-prefetch-throughput&tour&step=3", {}, ".tour-panel");
  await arrived(page);
  assert.equal(await page.locator(".tour-chart circle.point").count(), 7);
  const rows = await page.locator(".tour-chart-data tbody tr").evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector("th").textContent, Number(tr.querySelector("td").textContent.replace(/,/g, ""))]),
  );
  assert.deepEqual(rows.map((r) => r[0]), ["1", "2", "5", "10", "20", "50", "150"]);
  const best = Math.max(...rows.map((r) => r[1]));
  assert.ok(rows[0][1] < best && rows.at(-1)[1] < best, `a hump: ${JSON.stringify(rows)}`);
  assert.match(await page.locator(".tour-chart").getAttribute("aria-label"), /prefetch_count 1: \d+/);
  assert.deepEqual(await axe(page), []);
  await screenshot(page, "tour-06-sweep");
  assert.deepEqual(page.problems, []);
});

test("the comparison: its table, each cell a link to the moment it was read", async () => {
  // Opened at its last step by the link, as an article would link it: the steps before are
  // taken at once, and the table is filled from a run of the scenario.
  const page = await openInContext("?example=paradigm-comparison&tour&step=7", {}, "#stage");
  await page.locator(".tour-compare").waitFor({ timeout: 60000 });
  await arrived(page);
  assert.equal(await page.locator("#tour-progress-text").textContent(), "Step 7 of 7");
  assert.equal(await page.locator("#clock").getAttribute("data-now-us"), "58000000");
  const headings = await page.locator(".tour-compare thead th").allTextContents();
  assert.deepEqual(headings, ["request-response", "queue", "stream"]);
  const table = await page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll(".tour-compare tbody tr")].map((tr) => [
      tr.querySelector("th").textContent,
      [...tr.querySelectorAll(".tour-cell")].map((b) => b.textContent),
    ])),
  );
  assert.equal(Object.keys(table).length, 8, JSON.stringify(table));
  // The same numbers as the native run of the tour (tours.rs checks their directions).
  const failed = table["orders that failed for the shop while billing was down"];
  assert.ok(Number(failed[0]) > 100, JSON.stringify(table));
  assert.deepEqual(failed.slice(1), ["0", "0"]);
  assert.deepEqual(table["orders billing never got"], [failed[0], "0", "0"]);
  const order = table["stock updates applied out of order, before the crash"];
  assert.ok(order[0] === "0" && Number(order[1]) > 0 && order[2] === "0", JSON.stringify(order));
  assert.deepEqual(table["orders the late consumer holds, of all placed"].slice(2), ["100.0 %"]);
  assert.deepEqual(await axe(page), [], "the table passes axe");
  await screenshot(page, "tour-07-comparison");

  // A cell by keyboard: the run goes back to the moment it was read, and its node is lit.
  const cell = page.locator('.tour-cell[data-row="3"][data-col="1"]');
  assert.match(await cell.getAttribute("aria-label"), /read at 14\.000s: go to 14\.000s/);
  await cell.focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#clock")?.getAttribute("data-now-us") === "14000000", null, { timeout: 60000 });
  assert.equal(await cell.getAttribute("aria-current"), "true");
  assert.ok(await cell.evaluate((el) => el === document.activeElement), "the focus stays on the cell");
  assert.equal(await page.locator('g.node[data-node="billing-view-amqp"].tour-lit').count(), 1);
  await screenshot(page, "tour-08-comparison-cell");
  // A windowed cell goes to the end of its window.
  const window = page.locator('.tour-cell[data-row="5"][data-col="0"]');
  assert.match(await window.getAttribute("aria-label"), /read from 36\.000s to 50\.000s/);
  await window.click();
  await page.waitForFunction(() => document.querySelector("#clock")?.getAttribute("data-now-us") === "50000000", null, { timeout: 60000 });
  assert.equal(await page.locator('g.node[data-node="orders-http"].tour-lit').count(), 1);
  // Narrower windows: the table stays in the panel, and nothing scrolls sideways.
  for (const width of [800, 360]) {
    await page.setViewportSize({ width, height: 700 });
    await page.waitForTimeout(100);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(over <= 0, `${width} px: the page is ${over} px wider than the window`);
    assert.ok(await page.locator(".tour-compare").isVisible());
  }
  await screenshot(page, "tour-09-comparison-narrow");
  assert.deepEqual(page.problems, []);
});
