// Stores in the playground, as a newcomer meets them: open the duplicate-charges example and
// see retries charge twice where there is no idempotency key and never where there is one; then
// build client → service → store from the palette, give the service a write step, and watch
// the store's versions count up; then the same for a consumer's redeliveries after its crashes,
// and a consumer built from the palette. Screenshots in artifacts/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, openInContext, axe, screenshot, centreOf as centre, dragFromPalette, connectNodes, runTo } from "./harness.mjs";

useServerAndBrowser();

/** A store's duplicate and skipped counts, as its face carries them. */
async function storeCounts(page, name) {
  const g = page.locator(`g.node-face[data-face="${name}"] g.store`);
  return {
    duplicates: Number(await g.getAttribute("data-duplicates")),
    deduplicated: Number(await g.getAttribute("data-deduplicated")),
    text: (await g.textContent()).trim(),
  };
}

test("retries charge twice without an idempotency key, and once with one", async () => {
  const page = await openInContext("?example=data-duplicate-charges", {}, "#stage");
  await runTo(page, 20, { speed: 25 });
  const plain = await storeCounts(page, "charges");
  const keyed = await storeCounts(page, "charges-2");
  await screenshot(page, "data-01-duplicates");
  assert.ok(plain.duplicates > 10, `the store without a key has duplicates: ${plain.text}`);
  assert.equal(keyed.duplicates, 0, `the keyed store has none: ${keyed.text}`);
  assert.ok(keyed.deduplicated > 10, `the keyed store skipped the retried writes: ${keyed.text}`);
  assert.match(plain.text, /dup \d+/);
  // The store's state in words, for screen readers and the text view.
  const label = await page.locator(`g.node[data-node="charges"]`).getAttribute("aria-label");
  assert.match(label ?? "", /duplicates/, `the store says its duplicates: ${label}`);
  // The keyed store's contents: every key written once (version 1), by an attempt of its request.
  const c = await centre(page.locator(`g.node[data-node="charges-2"]`));
  await page.mouse.click(c.x, c.y - 20);
  const rows = page.locator(`section.store-contents[data-store="charges-2"] tbody tr`);
  await rows.first().waitFor();
  assert.equal(await rows.count(), 20, "the 20 keys written last");
  const versions = await rows.locator("td:nth-of-type(1)").allTextContents();
  assert.deepEqual([...new Set(versions)], ["1"], `every key once: ${versions}`);
  assert.match(await rows.first().textContent(), /charge:\d+.*message \d+ \(request \d+\)/);
  await screenshot(page, "data-01b-contents");
  const violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
});

test("build a service that writes a store, from the palette", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  await dragFromPalette(page, "client", "", 300, 240);
  await dragFromPalette(page, "service", "", 560, 240);
  await dragFromPalette(page, "store", "", 820, 240);
  await connectNodes(page, "client", "service");
  const tip = await connectNodes(page, "service", "store");
  assert.match(tip ?? "", /writes to/, `the cursor says what the edge will be: ${tip}`);
  assert.equal(await page.locator("g.edge.access").count(), 1, "one store link");
  // A store sends only what its outbox relay publishes: an edge to a client is refused, saying why.
  const refused = await connectNodes(page, "store", "client");
  assert.match(refused ?? "", /outbox relay/, `the cursor says why: ${refused}`);
  assert.equal(await page.locator("g.edge").count(), 2, "no edge made");
  // The service's handler: one write step.
  const c = await centre(node("service"));
  await page.mouse.click(c.x, c.y - 20);
  const field = page.locator(`#inspector [data-field="handler"]`);
  await field.click();
  await field.fill('[{"write": "store", "key": "order:{correlation_id}"}]');
  await field.press("Tab");
  await runTo(page, 5, { speed: 10 });
  const s = await storeCounts(page, "store");
  await screenshot(page, "data-02-built");
  assert.match(s.text, /\d+ keys · \d+ writes/, s.text);
  const [, keys, writes] = s.text.match(/(\d+) keys · (\d+) writes/);
  assert.ok(Number(keys) > 10, `the store has keys after 5 s at 20 requests a second: ${s.text}`);
  assert.equal(keys, writes, "no retries configured, so one write per request");
  assert.equal(s.duplicates, 0);
  // A key that reads a header the requests do not carry is refused where it is typed.
  await page.mouse.click(c.x, c.y - 20);
  await field.click();
  await field.fill('[{"write": "store", "key": "order:{header.id}"}]');
  await field.press("Tab");
  const problem = await page.locator("#inspector").textContent();
  assert.match(problem, /carry no headers/, "the inspector says why the key cannot be made");
});

test("a payment consumer crashing before its ack: a duplicate without the key, none with it", async () => {
  const page = await openInContext("?example=data-payment-redelivery", {}, "#stage");
  await runTo(page, 10, { speed: 25 });
  const plain = await storeCounts(page, "charges");
  const keyed = await storeCounts(page, "charges-keyed");
  await screenshot(page, "data-03-redelivery");
  // Three crashes by 10 s, each between some write and its ack, or not: at most one each.
  assert.ok(plain.duplicates >= 1 && plain.duplicates <= 3, `the store without a key has duplicates: ${plain.text}`);
  assert.equal(keyed.duplicates, 0, `the keyed store has none: ${keyed.text}`);
  assert.ok(keyed.deduplicated >= 1, `the keyed store skipped the redelivered charges: ${keyed.text}`);
  const violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
});

test("build a consumer that writes a store, from the palette", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  await dragFromPalette(page, "producer", "", 260, 240);
  await dragFromPalette(page, "queue", "", 460, 240);
  await dragFromPalette(page, "consumer", "", 660, 240);
  await dragFromPalette(page, "store", "", 860, 240);
  await connectNodes(page, "producer", "queue");
  await connectNodes(page, "queue", "consumer");
  const tip = await connectNodes(page, "consumer", "store");
  assert.match(tip ?? "", /writes to/, `a consumer connects to a store: ${tip}`);
  // The consumer's handler: one write, keyed by the message id.
  const c = await centre(node("consumer"));
  await page.mouse.click(c.x, c.y - 20);
  const field = page.locator(`#inspector [data-field="handler"]`);
  await field.click();
  await field.fill('[{"write": "store", "key": "charge:{message_id}"}]');
  await field.press("Tab");
  assert.doesNotMatch(await page.locator("#inspector").textContent(), /no edge|not a field/);
  await runTo(page, 3, { speed: 10 });
  const s = await storeCounts(page, "store");
  await screenshot(page, "data-04-consumer-built");
  const [, keys, writes] = s.text.match(/(\d+) keys · (\d+) writes/);
  assert.ok(Number(keys) > 0, `the consumer's writes reached the store: ${s.text}`);
  assert.equal(keys, writes, "no crash yet, so one write per message");
  // A write to a store that does not exist is refused where it is typed.
  await page.mouse.click(c.x, c.y - 20);
  await field.click();
  await field.fill('[{"write": "nowhere", "key": "charge:{message_id}"}]');
  await field.press("Tab");
  assert.match(await page.locator("#inspector").textContent(), /no node of that name/);
});

test("build a BullMQ worker that writes a store, keyed by the job id", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  await dragFromPalette(page, "job_producer", "", 260, 240);
  await dragFromPalette(page, "job_queue", "", 480, 240);
  await dragFromPalette(page, "worker", "", 700, 240);
  await dragFromPalette(page, "store", "", 900, 240);
  await connectNodes(page, "jobs-producer", "jobs");
  await connectNodes(page, "jobs", "worker");
  const tip = await connectNodes(page, "worker", "store");
  assert.match(tip ?? "", /writes to/, `a worker connects to a store: ${tip}`);
  const c = await centre(node("worker"));
  await page.mouse.click(c.x, c.y - 20);
  const field = page.locator(`#inspector [data-field="handler"]`);
  await field.click();
  await field.fill('[{"write": "store", "key": "charge:{job_id}", "idempotency_key": "{job_id}"}]');
  await field.press("Tab");
  assert.doesNotMatch(await page.locator("#inspector").textContent(), /no edge|not a field/);
  await runTo(page, 4, { speed: 10 });
  const s = await storeCounts(page, "store");
  await screenshot(page, "data-05-worker-built");
  const [, keys] = s.text.match(/(\d+) keys · (\d+) writes/);
  assert.ok(Number(keys) > 0, `the worker's writes reached the store: ${s.text}`);
  // The store's contents name each job's key.
  const sc = await centre(node("store"));
  await page.mouse.click(sc.x, sc.y - 20);
  const rows = page.locator(`section.store-contents[data-store="store"] tbody tr`);
  await rows.first().waitFor();
  assert.match(await rows.first().textContent(), /charge:\d+/);
});
