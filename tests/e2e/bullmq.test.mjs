// BullMQ in the playground, as a newcomer meets it: build a job producer, a job queue and a
// worker from the palette, watch jobs move through the queue's lanes, see a failing job back off
// and retry, crash the worker and see its jobs stall and come back once a new worker takes
// them. Screenshots in artifacts/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, openInContext, axe, screenshot, centreOf as centre, dragFromPalette, connectNodes, runTo } from "./harness.mjs";

useServerAndBrowser();

test("build producer → job queue → worker, watch the lanes, retries and a stall", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  const nowUs = async () => Number(await page.locator("#clock").getAttribute("data-now-us"));
  const drag = (kind, x, y) => dragFromPalette(page, kind, "", x, y);
  async function selectNode(name) {
    const c = await centre(node(name));
    await page.mouse.click(c.x, c.y - 20);
  }
  const lane = async (name) =>
    Number(await page.locator(`g.node-face[data-face="jobs"] g.lane[data-lane="${name}"]`).getAttribute("data-count"));
  const log = async (filter) => {
    if ((await page.locator("#tab-events").getAttribute("aria-selected")) !== "true") await page.click("#tab-events");
    await page.locator("#log-filter").fill(filter);
    return page.locator("#drawer-panel").textContent();
  };

  await drag("job_producer", 320, 220);
  await drag("job_queue", 580, 220);
  await drag("worker", 840, 220);
  const tip = await connectNodes(page, "jobs-producer", "jobs");
  assert.match(tip, /adds jobs to/, `the connection says what it means: ${tip}`);
  await connectNodes(page, "jobs", "worker");
  assert.equal(await page.locator("g.edge.add").count(), 1);
  assert.equal(await page.locator("g.edge.work").count(), 1);
  await screenshot(page, "bullmq-01-built");

  // The producer adds five jobs a second; the worker (concurrency 2, 300 ms, one attempt in
  // five throws) completes them; a failed attempt backs off (exponential, 1 s) in delayed.
  await runTo(page, 12);
  assert.ok((await lane("completed")) > 20, `completed: ${await lane("completed")}`);
  const lanes = await page.locator('g.node-face[data-face="jobs"] g.lane').evaluateAll((gs) => gs.map((g) => g.dataset.lane));
  assert.deepEqual(lanes, ["waiting", "prioritized", "delayed", "active", "completed", "failed", "children"]);
  const retried = await log("worker_failed");
  assert.match(retried, /then=delayed backoff=1000/, "a failed attempt backs off 1 s");
  assert.match(await log("prev=delayed"), /waiting/, "and comes back when due");
  await screenshot(page, "bullmq-02-running");
  assert.deepEqual(await axe(page), [], "axe with the BullMQ nodes");

  // A job that fails twice: its attempts on a timeline, the backoffs (1 s, 2 s) between them.
  await selectNode("jobs-producer");
  await page.click('button[data-fault="failing-job"]');
  await page.keyboard.press("Escape");
  // It joins the tail of a queue with a backlog: run until its third attempt has ended. Its
  // processor throws on the first two; the third completes unless the worker's own failure
  // rate (one in five) strikes too, and then the job fails for good.
  const ended = ".log-table tr.ev.completed, .log-table tr.ev.failed";
  for (let i = 0; i < 20; i++) {
    await log("name=fails-twice");
    if ((await page.locator(ended).count()) > 0) break;
    await runTo(page, (await nowUs()) / 1e6 + 5);
  }
  const seen = await log("name=fails-twice");
  assert.ok((await page.locator(ended).count()) > 0, `ended by ${(await nowUs()) / 1e6} s: ${seen.slice(0, 300)}`);
  await page.locator(ended).first().dblclick();
  const tl = page.locator(".job-timeline");
  await tl.waitFor();
  const state = await tl.getAttribute("data-state");
  assert.ok(state === "completed" || state === "failed", state);
  assert.equal(await tl.getAttribute("data-attempts"), "3");
  assert.equal(await tl.locator("rect.attempt.threw").count(), state === "completed" ? 2 : 3);
  assert.equal(await tl.locator("rect.attempt.ok").count(), state === "completed" ? 1 : 0);
  const backoffs = await tl.locator("text.backoff-label").allTextContents();
  assert.deepEqual(backoffs, ["1000 ms", "2000 ms"]);
  assert.match(await tl.locator("svg").getAttribute("aria-label"), /attempt 1 at .*threw, then a 1000 ms backoff/);
  await screenshot(page, "bullmq-02a-job-timeline");
  assert.deepEqual(await axe(page), [], "axe with a job's timeline");

  await page.click("#tab-events");
  // Crash the worker: its active jobs stay active (locked) until their locks expire (30 s)
  // and a stalled check moves them back; a new worker then completes them.
  await selectNode("worker");
  await page.click('button[data-fault="crash"]');
  const crashedAt = await nowUs();
  await page.keyboard.press("Escape");
  await drag("worker", 840, 380);
  await connectNodes(page, "jobs", "worker-2");
  await runTo(page, crashedAt / 1e6 + 75);
  assert.match(await log("stalled"), /stalled_count=1/, "the crashed worker's jobs stalled");
  const done = await log("completed");
  assert.match(done, /worker=worker-2/, "the new worker completes jobs");
  await screenshot(page, "bullmq-03-stalled");
  assert.deepEqual(page.problems, []);
});

test("the order example: LIFO, FIFO, the promoted delayed job, then priorities", async () => {
  const page = await openInContext("?example=bullmq-order", {}, "#stage");
  await runTo(page, 6, { timeout: 40000 });
  if ((await page.locator("#tab-events").getAttribute("aria-selected")) !== "true") await page.click("#tab-events");
  await page.locator("#log-filter").fill("active");
  const rows = await page.locator(".log-table tr.ev.active").allTextContents();
  const order = rows.map((r) => r.match(/name=(\S+)/)[1]).reverse();
  assert.deepEqual(order, ["lifo-2", "lifo-1", "fifo-1", "fifo-2", "fifo-3", "later", "urgent", "normal"]);
  assert.equal(await page.locator('g.node-face[data-face="jobs"] g.lane[data-lane="completed"]').getAttribute("data-count"), "8");
  await screenshot(page, "bullmq-04-order");
  assert.deepEqual(page.problems, []);
});

test("the flows example: orders wait in the children lane for their payment and stock", async () => {
  const page = await openInContext("?example=bullmq-flows", {}, "#stage");
  const lane = (queue, name) =>
    page.locator(`g.node-face[data-face="${queue}"] g.lane[data-lane="${name}"]`).getAttribute("data-count");
  // The first order waits for its children (about 0.4 s of payment) in the children lane.
  await runTo(page, 0.12, { speed: 1, timeout: 20000 });
  assert.equal(await lane("shipping", "children"), "1");
  await screenshot(page, "bullmq-05-flow-waiting");
  await page.selectOption("#speed", "10");
  await page.click('button[data-action="play"]');
  // Jobs move between lanes as cards drawn on the canvas, not as page elements.
  await page.waitForFunction(() => Number(document.querySelector("canvas#flights").dataset.jobCardsMoving) > 0, null, { timeout: 15000 });
  await screenshot(page, "bullmq-05a-cards-moving");
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 20e6, null, { timeout: 40000 });
  await page.click('button[data-action="pause"]');
  // Every order ended: shipped, or failed with its charge.
  const done = Number(await lane("shipping", "completed")) + Number(await lane("shipping", "failed"));
  assert.equal(done, 12);
  assert.equal(await lane("shipping", "failed"), await lane("payments", "failed"));
  assert.equal(await lane("shipping", "children"), "0");
  if ((await page.locator("#tab-events").getAttribute("aria-selected")) !== "true") await page.click("#tab-events");
  await page.locator("#log-filter").fill("waiting_children");
  assert.ok((await page.locator(".log-table tr.ev").count()) >= 12);
  await screenshot(page, "bullmq-06-flows-done");
  const violations = await axe(page);
  assert.deepEqual(violations, []);
  // The inspector edits the flow's children as JSON: a child naming no job queue is refused
  // inline, and nothing changes.
  await page.locator('g.node[data-node="orders"]').click();
  await page.locator('#inspector [data-selected="orders"]').waitFor();
  const field = page.locator('#inspector [data-field="children"]');
  const before = await field.inputValue();
  assert.match(before, /payments/);
  await field.click();
  await field.fill('[{"name": "charge", "queueName": "nowhere"}]');
  await field.press("Tab");
  const error = page.locator("#inspector .field.invalid .field-error");
  await error.waitFor();
  assert.match(await error.textContent(), /nowhere/);
  await screenshot(page, "bullmq-07-flow-children-refused");
  assert.deepEqual(page.problems, []);
});

test("the rate-limit example: the queue shows its limiter's window filling", async () => {
  const page = await openInContext("?example=bullmq-rate-limit", {}, "#stage");
  await page.selectOption("#speed", "1");
  await page.click('button[data-action="play"]');
  const subtitle = page.locator('g.node-face[data-face="api-calls"] text.kind');
  // Ten jobs start in the first window: ten filled boxes of ten.
  await page.waitForFunction(
    () => (document.querySelector('g.node-face[data-face="api-calls"] text.kind')?.textContent ?? "").includes("■■■■■■■■■■"),
    null,
    { timeout: 20000 },
  );
  await page.click('button[data-action="pause"]');
  assert.match(await subtitle.textContent(), /^limiter ■{10} in 1000 ms$/);
  // Said in words to a screen reader, in the node's name.
  assert.match(await page.locator('g.node[data-node="api-calls"]').getAttribute("aria-label"), /rate limiter: 10 of 10 jobs in its 1000 ms window/);
  await screenshot(page, "bullmq-08-limiter-window");
  assert.deepEqual(page.problems, []);
});

test("the stalled-jobs example: a crashed worker's jobs show their locks lapse before they stall", async () => {
  const page = await openInContext("?example=bullmq-stalled-jobs", {}, "#stage");
  // worker-a crashed at 5 s; once its jobs' locks (5 s) have lapsed and until the checker moves
  // them, they are drawn dashed, and their titles say so.
  await page.selectOption("#speed", "1");
  await page.click('button[data-action="play"]');
  await page.waitForFunction(() => document.querySelector("rect.card.lapsed") !== null, null, { timeout: 30000 });
  await page.click('button[data-action="pause"]');
  const now = Number(await page.locator("#clock").getAttribute("data-now-us"));
  assert.ok(now > 5e6, `after the crash: ${now}`);
  const lapsed = page.locator('g.node-face[data-face="renders"] g.lane[data-lane="active"] rect.card.lapsed');
  assert.match(await lapsed.first().locator("title").textContent(), /its lock lapsed: it has stalled/);
  // worker-b's jobs run: each active card has its progress bar; the lapsed ones do not.
  const progress = page.locator('g.node-face[data-face="renders"] g.lane[data-lane="active"] rect.card-progress');
  assert.equal(await progress.count(), 2);
  assert.ok(Number(await progress.first().getAttribute("width")) > 0);
  await screenshot(page, "bullmq-09-locks-lapsed");
  // A live job opened from the log: its id, state, attempts and options.
  if ((await page.locator("#tab-events").getAttribute("aria-selected")) !== "true") await page.click("#tab-events");
  await page.locator("#log-filter").fill("name=render");
  await page.locator(".log-table tr.ev.active").last().dblclick();
  await page.locator("#job-state").waitFor();
  assert.equal(await page.locator("#job-state").textContent(), "active");
  assert.match(await page.locator("#job-attempts").textContent(), /0 made, 1 started/);
  assert.equal(await page.locator("#job-opts").textContent(), "{}");
  await screenshot(page, "bullmq-10-job-inspector");
  await runTo(page, 20, { timeout: 30000 });
  assert.equal(await page.locator("rect.card.lapsed").count(), 0, "moved back and taken again");
  assert.deepEqual(page.problems, []);
});
