// The web skeleton in real Chromium: loads cleanly, play advances the clock, pause stops it,
// step moves it by exactly one event, dots are drawn on the canvas, and errors reach the page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { server, browser, useServerAndBrowser, newPage, screenshot } from "./harness.mjs";

useServerAndBrowser();

const clock = async (page) => {
  const el = page.locator("#clock");
  return {
    nowUs: Number(await el.getAttribute("data-now-us")),
    nextUs: Number(await el.getAttribute("data-next-us")),
    steps: Number(await el.getAttribute("data-steps")),
    text: (await el.textContent()).trim(),
  };
};

async function openPlayground() {
  const page = await newPage(browser);
  await page.goto(server.url + "?example=hello");
  await page.locator("#clock").waitFor({ timeout: 15000 });
  return page;
}

test("the page loads the app with no console errors", async () => {
  const page = await openPlayground();
  assert.equal(await page.locator(".node").count(), 2, "producer and sink are drawn");
  assert.equal(await page.locator("canvas#flights").count(), 1);
  const c = await clock(page);
  assert.deepEqual([c.nowUs, c.steps, c.text], [0, 0, "0.000s"]);
  await page.waitForTimeout(300);
  assert.deepEqual(page.problems, []);
  assert.equal(await page.locator("#fatal-error").isHidden(), true);
  await page.close();
});

test("play advances the clock, dots move on the canvas, pause stops the clock", async () => {
  const page = await openPlayground();
  await page.click('button[data-action="play"]');
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 500000);
  // Dots are drawn on the canvas layer, not as DOM nodes.
  await page.waitForFunction(() => Number(document.querySelector("#flights").dataset.inFlight) > 0, null, {
    timeout: 10000,
  });
  const canvasHasInk = await page.evaluate(() => {
    const c = document.querySelector("#flights");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  });
  assert.ok(canvasHasInk, "the canvas has dots on it");
  await screenshot(page, "skeleton-playing");
  await page.click('button[data-action="pause"]');
  const paused = await clock(page);
  assert.ok(paused.nowUs > 500000, `clock advanced while playing (${paused.text})`);
  await page.waitForTimeout(600);
  const later = await clock(page);
  assert.equal(later.nowUs, paused.nowUs, "paused: the clock does not move");
  assert.equal(later.steps, paused.steps, "paused: no events are processed");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("step moves the run by exactly one event", async () => {
  const page = await openPlayground();
  for (let i = 1; i <= 5; i++) {
    const before = await clock(page);
    await page.click('button[data-action="step"]');
    await page.waitForFunction((n) => Number(document.querySelector("#clock").dataset.steps) === n, before.steps + 1);
    const after = await clock(page);
    assert.equal(after.steps, before.steps + 1, "exactly one event per step");
    assert.equal(after.nowUs, before.nextUs, "the clock lands on that event's time");
    assert.ok(after.nowUs >= before.nowUs, "time never goes backwards");
  }
  // Keyboard too: "." steps.
  const before = await clock(page);
  await page.locator("#topology").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press(".");
  await page.waitForFunction((n) => Number(document.querySelector("#clock").dataset.steps) === n, before.steps + 1);
  await screenshot(page, "skeleton-stepped");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("a failed wasm load is shown in the page, not only in the console", async () => {
  const page = await newPage(browser);
  await page.route(/\.wasm$/, (route) => route.fulfill({ status: 404, body: "gone" }));
  await page.goto(server.url);
  const banner = page.locator("#fatal-error");
  await banner.waitFor({ state: "visible", timeout: 15000 });
  assert.match(await banner.textContent(), /Switchboard could not run/);
  await screenshot(page, "skeleton-load-error");
  await page.close();
});
