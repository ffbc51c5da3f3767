// The playground as a newcomer uses it, in real Chromium with real pointer and keyboard
// events: build a RabbitMQ topology from nothing by drag-and-drop, connect and configure it,
// run it, break it, undo, and travel in time. Each step leaves a screenshot in artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { serve, launch, newPage, screenshot, dragFromPalette as dragPalette, connectNodes } from "./harness.mjs";

let server;
let browser;
let page;
before(async () => {
  server = await serve();
  browser = await launch();
  page = await newPage(browser);
  await page.goto(server.url);
  await page.locator("#clock").waitFor({ timeout: 15000 });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const clock = async () => {
  const el = page.locator("#clock");
  return {
    nowUs: Number(await el.getAttribute("data-now-us")),
    steps: Number(await el.getAttribute("data-steps")),
    horizonUs: Number(await el.getAttribute("data-horizon-us")),
  };
};
const centre = async (locator) => {
  const b = await locator.boundingBox();
  assert.ok(b, "the element is on screen");
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
};
const node = (name) => page.locator(`g.node[data-node="${name}"]`);

/** Opens a drawer (a second click on an open drawer's tab would close it). */
async function openDrawer(id) {
  if ((await page.locator(id).getAttribute("aria-selected")) !== "true") await page.locator(id).click();
}

const dragFromPalette = (kind, type, x, y) => dragPalette(page, kind, type, x, y);
const connect = (from, to) => connectNodes(page, from, to);

/** Sets an inspector field of the selected node and commits it (change event). */
async function setField(name, value) {
  const field = page.locator(`#inspector [data-field="${name}"]`);
  await field.click();
  await field.fill(value);
  await field.press("Tab");
}

/** Observable state for comparing two visits to the same moment. */
async function state() {
  // The canvas is drawn on the next animation frame: let two pass.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate(() => {
    const q = (sel) => document.querySelector(sel);
    const attrs = (sel, names) =>
      [...document.querySelectorAll(sel)].map((e) => names.map((n) => e.getAttribute(n)).join("/")).join(",");
    return {
      clock: q("#clock").dataset.nowUs,
      steps: q("#clock").dataset.steps,
      tubes: attrs(".tube", ["data-ready", "data-unacked"]),
      windows: attrs(".window", ["data-unacked", "data-paused"]),
      inFlight: q("#flights").dataset.inFlight,
      counts: [...document.querySelectorAll(".node-face .counts")].map((e) => e.textContent).join("|"),
      dlq: q("#dlq-badge")?.dataset.count ?? "0",
    };
  });
}

test("a newcomer builds, runs, breaks and rewinds a RabbitMQ topology", async (t) => {
  await t.test("the empty canvas says where to start", async () => {
    assert.equal(await page.locator("g.node").count(), 0);
    // A first visit is offered the stories; starting from scratch says how to build.
    assert.ok((await page.locator(".story-card").count()) >= 4);
    await page.click('[data-action="start-scratch"]');
    assert.equal(await page.locator(".start-screen").count(), 0);
    assert.match(await page.locator(".empty-hint").textContent(), /Drag a Producer/);
    await screenshot(page, "playground-01-empty");
  });

  await t.test("build a topology by drag-and-drop", async () => {
    await dragFromPalette("producer", "", 260, 140);
    await dragFromPalette("exchange", "direct", 470, 140);
    await dragFromPalette("queue", "", 680, 140);
    await dragFromPalette("consumer", "", 880, 140);
    await dragFromPalette("exchange", "fanout", 470, 330);
    await dragFromPalette("queue", "", 680, 330);
    for (const name of ["producer", "direct-x", "queue", "consumer", "fanout-x", "queue-2"]) {
      assert.equal(await node(name).count(), 1, `${name} is on the canvas`);
    }
    // Moving a node by dragging it.
    const before = await node("queue-2").boundingBox();
    const c = await centre(node("queue-2"));
    await page.mouse.move(c.x, c.y - 20);
    await page.mouse.down();
    await page.mouse.move(c.x + 40, c.y + 20, { steps: 6 });
    await page.mouse.up();
    const afterMove = await node("queue-2").boundingBox();
    assert.ok(afterMove.x > before.x + 20 && afterMove.y > before.y + 20, "the node moved");
    await screenshot(page, "playground-02-placed");
  });

  await t.test("connect: invalid connections are refused with a reason at the cursor", async () => {
    const tip = await connect("queue", "producer");
    assert.match(tip, /Can't connect: .*a producer receives nothing/);
    assert.equal(await page.locator("g.edge").count(), 0, "nothing was connected");
  });

  await t.test("connect: publish, bind with a routing key, consume", async () => {
    const tip = await connect("producer", "direct-x");
    assert.match(tip, /producer publishes to direct-x/);
    await connect("direct-x", "queue");
    const dialog = page.locator("#bind-dialog");
    await dialog.waitFor();
    assert.equal(await page.locator("#bind-key").inputValue(), "task", "the producer's key is offered");
    await screenshot(page, "playground-03-bind-dialog");
    await page.locator("#bind-key").press("Enter");
    await dialog.waitFor({ state: "detached" });
    assert.equal(await page.locator("g.edge.binding .edge-label").first().textContent(), "task");
    await connect("queue", "consumer");
    // The dead-letter path: fanout-x → queue-2 (a fanout binding asks for nothing).
    await connect("fanout-x", "queue-2");
    assert.equal(await page.locator("#bind-dialog").count(), 0);
    assert.equal(await page.locator("g.edge").count(), 4);
  });

  await t.test("configure in the inspector, with inline validation", async () => {
    await node("queue").click();
    await page.locator('#inspector [data-selected="queue"]').waitFor();
    // Invalid: a delivery limit on a classic queue. The core's rule is shown inline.
    await setField("x-delivery-limit", "3");
    const error = page.locator("#inspector .field.invalid .field-error");
    await error.waitFor();
    assert.match(await error.textContent(), /quorum/);
    await setField("x-delivery-limit", "");
    await page.locator("#inspector .field.invalid").waitFor({ state: "detached" });
    await setField("x-dead-letter-exchange", "fanout-x");
    assert.equal(await page.locator('#inspector [data-field="x-dead-letter-exchange"]').inputValue(), "fanout-x");
    // The consumer rejects failures without requeueing, so a poison message dead-letters.
    await node("consumer").click();
    await setField("on_failure", '{"action":"reject","requeue":false}');
    await setField("prefetch_count", "3");
    assert.equal(await page.locator("#inspector .field.invalid").count(), 0);
    await screenshot(page, "playground-04-configured");
  });

  await t.test("undo an edit with Ctrl+Z, redo with Ctrl+Shift+Z, delete with the Delete key", async () => {
    await page.locator('.palette-item[data-kind="queue"]').click();
    assert.equal(await node("queue-3").count(), 1, "a click adds a queue");
    await page.keyboard.press("Control+z");
    await node("queue-3").waitFor({ state: "detached" });
    await page.keyboard.press("Control+Shift+z");
    await node("queue-3").waitFor();
    await node("queue-3").click();
    await page.keyboard.press("Delete");
    await node("queue-3").waitFor({ state: "detached" });
    assert.equal(await page.locator('#inspector [data-field="prefetch_count"]').count(), 0, "selection cleared");
  });

  await t.test("run it and see messages reach the consumer", async () => {
    await page.click('button[data-action="play"]');
    await page.waitForFunction(() => document.querySelector(".log-table tr.ev.acked") !== null, null, {
      timeout: 15000,
    });
    await page.waitForFunction(() => Number(document.querySelector("#flights").dataset.inFlight) > 0, null, {
      timeout: 10000,
    });
    const s = await state();
    assert.match(s.counts, /\d+ published/);
    await screenshot(page, "playground-05-running");
  });

  await t.test("an inspector edit applies live, as a command at the current moment", async () => {
    await node("consumer").click();
    // Typed slowly, across several re-renders of the playing page: nothing typed is lost.
    const field = page.locator('#inspector [data-field="prefetch_count"]');
    await field.click();
    await field.press("Control+a");
    await field.pressSequentially("10", { delay: 160 });
    assert.equal(await field.inputValue(), "10", "the text survives the refreshes while playing");
    await field.press("Backspace");
    await field.press("Tab");
    await openDrawer("#tab-events");
    await page.locator("#log-filter").fill("configured");
    await page.locator(".log-table tr.ev.configured").first().waitFor({ timeout: 5000 });
    assert.ok(Number(await page.locator(".log-table tr.ev.configured td.at").first().textContent().then(parseFloat)) > 0);
    await page.locator("#log-filter").fill("");
    await page.waitForFunction(() => Number(document.querySelector(".window").dataset.unacked) <= 1, null, { timeout: 10000 });
    await setField("prefetch_count", "3");
    await page.locator('g.node[data-node="consumer"]').click();
  });

  await t.test("clicking a moving message pauses and opens it in the message inspector", async () => {
    // Find a dot: ask the page where the first message in flight is drawn.
    let hit = false;
    for (let i = 0; i < 40 && !hit; i++) {
      const box = await page.locator("#flights").boundingBox();
      const spot = await page.evaluate(() => {
        const c = document.querySelector("#flights");
        const ctx = c.getContext("2d");
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        const dpr = window.devicePixelRatio || 1;
        for (let y = 0; y < c.height; y += 2)
          for (let x = 0; x < c.width; x += 2) {
            const k = (y * c.width + x) * 4;
            // The dots' amber: strong red, medium green, little blue, opaque.
            if (d[k + 3] > 200 && d[k] > 180 && d[k + 1] > 90 && d[k + 1] < 150 && d[k + 2] < 60)
              return { x: x / dpr, y: y / dpr };
          }
        return null;
      });
      if (spot) {
        await page.mouse.click(box.x + spot.x + 2, box.y + spot.y + 2);
        hit = (await page.locator(".message-inspector").count()) > 0;
      }
      if (!hit) await page.waitForTimeout(50);
    }
    assert.ok(hit, "a message was clicked");
    assert.ok(await page.locator('button[data-action="play"]').isVisible(), "the run paused");
    assert.match(await page.locator("#message-path").textContent(), /published/);
    await screenshot(page, "playground-06-message");
  });

  await t.test("crash the consumer and see redelivery with the flag set", async () => {
    await page.click('button[data-action="play"]');
    await page.waitForFunction(() => Number(document.querySelector(".window")?.dataset.unacked) > 0, null, {
      timeout: 10000,
    });
    await node("consumer").click();
    await page.click('button[data-fault="crash"]');
    assert.match(await page.locator("g.node.consumer").getAttribute("class"), /down/);
    await page.click('button[data-fault="restart"]');
    await openDrawer("#tab-events");
    await page.locator("#log-filter").fill("redelivered=true");
    await page.locator(".log-table tr.ev.delivered").first().waitFor({ timeout: 10000 });
    await page.locator(".log-table tr.ev.delivered").first().dblclick();
    await page.locator("#message-redelivered").waitFor();
    assert.equal(await page.locator("#message-redelivered").textContent(), "true");
    await screenshot(page, "playground-07-redelivered");
    await openDrawer("#tab-events");
    await page.locator("#log-filter").fill("");
  });

  await t.test("a poison message is dead-lettered and the DLQ badge counts up", async () => {
    await page.click('button[data-action="play"]');
    assert.equal(await page.locator("#dlq-badge").count(), 0, "no dead letters yet");
    await node("producer").click();
    await page.click('button[data-fault="poison"]');
    await page.locator("#dlq-badge").waitFor({ timeout: 15000 });
    assert.ok(Number(await page.locator("#dlq-badge").getAttribute("data-count")) >= 1);
    assert.match(await page.locator("#dlq-alert").textContent(), /new dead-lettered message/);
    await page.waitForFunction(() => /dead letters/.test(document.querySelector('g.node-face[data-face="queue-2"]').textContent));
    await screenshot(page, "playground-08-dead-letter");
    await openDrawer("#tab-dead");
    assert.match(await page.locator("#dead-letters").textContent(), /queue-2: 1 arrived/);
    assert.equal(await page.locator("#dlq-alert").count(), 0, "seen: the alert clears");
  });

  await t.test("seek back and forth and see the same state", async () => {
    await page.waitForTimeout(1500);
    await page.click('button[data-action="pause"]');
    const end = await state();
    const { horizonUs } = await clock();
    const bar = await page.locator("#scrubber").boundingBox();
    // Back to about a third of the run, with a real click on the scrubber.
    await page.mouse.click(bar.x + bar.width / 3, bar.y + bar.height / 2);
    await page.waitForFunction((h) => Number(document.querySelector("#clock").dataset.nowUs) < h / 2, horizonUs);
    const middle = await state();
    assert.notDeepEqual(middle, end, "an earlier moment looks different");
    await screenshot(page, "playground-09-seek-back");
    // Step back one event, forward one, back one: the same state each time it is visited.
    await page.click('button[data-action="step-back"]');
    const back = await state();
    assert.equal(Number(back.steps), Number(middle.steps) - 1, "one event fewer");
    await page.click('button[data-action="step"]');
    const forward = await state();
    assert.equal(forward.steps, middle.steps, "one event more");
    await page.keyboard.press(",");
    assert.deepEqual(await state(), back, "stepping back again (the , key) restores the earlier state");
    // Forward to the end of the run: exactly the state it had.
    await page.locator("#scrubber").focus();
    await page.keyboard.press("End");
    await page.waitForFunction((h) => Number(document.querySelector("#clock").dataset.nowUs) === h, horizonUs);
    assert.deepEqual(await state(), end, "the end of the run is as it was");
    // And back to the same middle moment: the same state as the first visit.
    await page.mouse.click(bar.x + bar.width / 3, bar.y + bar.height / 2);
    await page.waitForFunction((c) => document.querySelector("#clock").dataset.nowUs === c, middle.clock);
    assert.deepEqual(await state(), middle, "the middle of the run is as it was");
  });

  await t.test("editing after seeking back forks the run", async () => {
    const before = await clock();
    assert.ok(before.nowUs < before.horizonUs, "we are in the past");
    await node("consumer").click();
    await page.click('button[data-fault="pause"]');
    const after = await clock();
    assert.equal(after.horizonUs, after.nowUs, "the future was discarded");
    await screenshot(page, "playground-10-forked");
    assert.deepEqual(page.problems, []);
  });
});
