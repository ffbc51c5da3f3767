// Request-response in the playground, as a newcomer meets it: build client → service → service
// from the palette, slow the last service and watch the timeouts climb the chain, then put a
// circuit breaker on the slow call and watch it open, half-open and close once the service is
// well again. Screenshots in artifacts/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, openInContext, axe, screenshot, centreOf as centre, dragFromPalette, connectNodes, runTo } from "./harness.mjs";

useServerAndBrowser();

test("build a chain, slow its bottom, watch the timeouts climb, and fix it with a breaker", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  const nowUs = async () => Number(await page.locator("#clock").getAttribute("data-now-us"));

  const drag = (kind, x, y) => dragFromPalette(page, kind, "", x, y);
  const connect = (from, to) => connectNodes(page, from, to);
  async function selectNode(name) {
    const c = await centre(node(name));
    await page.mouse.click(c.x, c.y - 20);
  }
  async function selectEdge(id) {
    await page.locator(`line[data-edge-focus="${id}"]`).focus();
    await page.keyboard.press("Enter");
    await page.locator(`#inspector [data-field="timeLimiter"]`).waitFor();
  }
  async function setField(name, value) {
    const field = page.locator(`#inspector [data-field="${name}"]`);
    await field.click();
    await field.fill(value);
    await field.press("Tab");
  }
  /** The call-stats text of edge `id` (empty before its first call). */
  const stats = (id) =>
    page.locator(`g.edge[data-edge="${id}"] text.call-stats`).evaluateAll((els) => els.map((e) => e.textContent).join(""));
  async function play(speed) {
    await page.selectOption("#speed", String(speed));
    await page.click('button[data-action="play"]');
  }
  async function pause() {
    await page.click('button[data-action="pause"]');
  }

  // Build: a client calling a service calling another service.
  await drag("client", 300, 220);
  await drag("service", 560, 220);
  await drag("service", 820, 220);
  await connect("client", "service");
  await connect("service", "service-2");
  assert.equal(await page.locator("g.edge.call").count(), 2, "two call edges");
  // Timeouts that grow towards the top.
  await selectEdge(0);
  await setField("timeLimiter", '{"timeoutDuration": "1500ms"}');
  await selectEdge(1);
  await setField("timeLimiter", '{"timeoutDuration": "400ms"}');
  await screenshot(page, "http-01-built");

  // A healthy while: calls succeed, nothing times out.
  await play(5);
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 3e6, null, { timeout: 20000 });
  await pause();
  assert.match(await stats(0), /1\.0× per request/);
  assert.doesNotMatch((await stats(0)) + (await stats(1)), /timeouts/, "healthy: no timeouts yet");

  // Slow the bottom service tenfold: its callers' timeouts come first, then the client's.
  await selectNode("service-2");
  await page.click('button[data-fault="slow"]');
  const slowedAt = await nowUs();
  await play(5);
  const first = {};
  const deadline = Date.now() + 40000;
  while (!(first[0] && first[1]) && Date.now() < deadline) {
    const now = await nowUs();
    for (const id of [0, 1]) if (!first[id] && /timeouts/.test(await stats(id))) first[id] = now;
    await page.waitForTimeout(40);
  }
  await pause();
  assert.ok(first[1] && first[0], `both calls time out: ${JSON.stringify(first)}`);
  assert.ok(slowedAt < first[1] && first[1] < first[0], `the timeouts climb the chain: service→service-2 at ${first[1]} µs, then client→service at ${first[0]} µs (slowed at ${slowedAt})`);
  const counts = await page.locator(`g.node-face[data-face="service"] .counts`).textContent();
  assert.match(counts, /busy 4\/4/, `the middle service's workers all wait on the slow one: ${counts}`);
  await screenshot(page, "http-02-cascade");

  // A circuit breaker on the slow call: it opens and sheds the load.
  await selectEdge(1);
  await setField(
    "circuitBreaker",
    '{"slidingWindowSize": 10, "minimumNumberOfCalls": 5, "waitDurationInOpenState": "1s", "permittedNumberOfCallsInHalfOpenState": 2}',
  );
  const breaker = () => page.locator('g.edge.call text.call-stats[data-breaker]').evaluateAll((els) => els.map((e) => e.dataset.breaker).join(","));
  await play(2);
  await page.waitForFunction(
    () => [...document.querySelectorAll("g.edge.call text.call-stats")].some((e) => (e.dataset.breaker || "").startsWith("OPEN")),
    null,
    { timeout: 20000 },
  );
  await pause();
  assert.match(await breaker(), /OPEN \d+\.\ds/, "the badge counts down");
  await screenshot(page, "http-03-breaker-open");
  assert.deepEqual(await axe(page), [], "axe with the request-response nodes and badges");

  // The service is well again: the breaker half-opens on the first call after its wait, and
  // closes once its trial calls succeed.
  await selectNode("service-2");
  await setField("service_time", "20ms");
  await play(2);
  await page.waitForFunction(
    () => {
      const s = [...document.querySelectorAll("g.edge.call text.call-stats")].map((e) => e.dataset.breaker || "");
      return s.length === 2 && s.every((b) => b === "");
    },
    null,
    { timeout: 30000 },
  );
  await pause();
  if ((await page.locator("#tab-events").getAttribute("aria-selected")) !== "true") await page.click("#tab-events");
  await page.locator("#log-filter").fill("breaker");
  const log = await page.locator("#drawer-panel").textContent();
  const states = [...log.matchAll(/state=([A-Z_]+)/g)].map((m) => m[1]).reverse(); // the log is newest first
  // The log is capped: on a slow run the OPEN that the badge showed above may have left it.
  // What remains must end with a half-open trial that closed the breaker.
  const half = states.lastIndexOf("HALF_OPEN");
  const closed = states.lastIndexOf("CLOSED");
  assert.ok(half >= 0 && closed === states.length - 1 && closed > half, `HALF_OPEN, then CLOSED last: ${states}`);
  await screenshot(page, "http-04-breaker-closed");
  assert.deepEqual(page.problems, []);
});

test("the metastable example: goodput collapses after the crash and the bottom's load is a multiple of the offered", async () => {
  const page = await openInContext("?example=http-metastable-retry", {}, "#stage");
  await runTo(page, 30, { timeout: 40000 });
  const client = await page.locator('g.node-face[data-face="client"] .counts').textContent();
  assert.match(client, / 0\/s good/, `no goodput 20 s after the recovery: ${client}`);
  const b = await page.locator('g.node-face[data-face="b"] .counts').textContent();
  assert.match(b, /× load/, `the service shows its load as a multiple of the offered: ${b}`);
  const perCall = Number((await page.locator('g.edge[data-edge="0"] text.call-stats').getAttribute("data-attempts-per-call")));
  assert.ok(perCall > 2, `retries multiply the attempts: ${perCall} per call`);
  if ((await page.locator("#tab-metrics").getAttribute("aria-selected")) !== "true") await page.click("#tab-metrics");
  await page.locator("#charts figure").first().waitFor();
  const titles = await page.locator("#charts figcaption").allTextContents();
  assert.ok(titles.some((t) => /client client, requests\/s/.test(t)), titles.join(" | "));
  assert.ok(titles.some((t) => /service b, requests held/.test(t)), titles.join(" | "));
  assert.ok(titles.some((t) => /service b, latency ms/.test(t)), titles.join(" | "));
  await screenshot(page, "http-05-metastable");
  assert.deepEqual(page.problems, []);
});
