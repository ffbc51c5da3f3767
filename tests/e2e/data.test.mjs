// Stores in the playground, as a newcomer meets them: open the duplicate-charges example and
// see retries charge twice where there is no idempotency key and never where there is one; then
// build client → service → store from the palette, give the service a write step, and watch
// the store's versions count up; then the same for a consumer's redeliveries after its crashes,
// and a consumer built from the palette; then a read model that lags its source, in the example
// and built from the palette, with its staleness chart; and a consumer adding jobs, twice after
// a crash unless the job id comes from the message; a consumer producing to a topic; and one
// order followed across HTTP, RabbitMQ, BullMQ and Kafka into a read model. Screenshots in artifacts/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, openInContext, axe, screenshot, centreOf as centre, dragFromPalette, connectNodes, setField, runTo, scrubTo } from "./harness.mjs";

useServerAndBrowser();

/** A store's duplicate and skipped counts, as its face carries them. */
async function storeCounts(page, name) {
  const g = page.locator(`g.node-face[data-face="${name}"] g.store`);
  return {
    duplicates: Number(await g.getAttribute("data-duplicates")),
    deduplicated: Number(await g.getAttribute("data-deduplicated")),
    stale: Number(await g.getAttribute("data-stale")),
    ryw: Number(await g.getAttribute("data-ryw")),
    p99: await g.getAttribute("data-staleness-p99"),
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
  assert.match(tip ?? "", /reads and writes/, `the cursor says what the edge will be: ${tip}`);
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

test("a consumer that adds a receipt job, crashing before its ack: mailed twice without a job id, once with one", async () => {
  const page = await openInContext("?example=data-receipt-jobs", {}, "#stage");
  await runTo(page, 10, { speed: 25 });
  const plain = await storeCounts(page, "mailbox");
  const keyed = await storeCounts(page, "mailbox-keyed");
  await screenshot(page, "data-09-receipt-jobs");
  const count = (s) => s.text.match(/(\d+) keys · (\d+) writes/).slice(1).map(Number);
  const [plainKeys, plainWrites] = count(plain);
  const [keyedKeys, keyedWrites] = count(keyed);
  // Three crashes by 10 s; each catches some adds on the wire, whose payments come back.
  assert.ok(plainWrites > plainKeys, `some receipts were mailed twice: ${plain.text}`);
  assert.equal(keyedWrites, keyedKeys, `each keyed receipt was mailed once: ${keyed.text}`);
  // The consumer's connection to its job queue is an add link, as a job producer's is.
  const link = page.locator(`line.edge-focus[aria-label$="from payer-keyed to receipts-keyed"]`);
  assert.match((await link.getAttribute("aria-label")) ?? "", /^add link/);
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
  assert.match(tip ?? "", /reads and writes/, `a consumer connects to a store: ${tip}`);
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
  assert.match(tip ?? "", /reads and writes/, `a worker connects to a store: ${tip}`);
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

/** Opens the metrics drawer and returns its charts' titles. */
async function chartTitles(page) {
  if ((await page.locator("#tab-metrics").getAttribute("aria-selected")) !== "true") await page.click("#tab-metrics");
  await page.locator("#charts figure").first().waitFor();
  return page.locator("#charts figcaption").allTextContents();
}

test("a read model lags its source: stale reads and read-your-writes violations, measured", async () => {
  const page = await openInContext("?example=data-read-model", {}, "#stage");
  await runTo(page, 8, { speed: 25 });
  const view = await storeCounts(page, "orders-view");
  const db = await storeCounts(page, "orders-db");
  // The customers reading the read model right after their order mostly miss it; those
  // reading the source of truth never do.
  assert.ok(view.ryw > 20, `read-your-writes violations on the read model: ${view.text}`);
  assert.ok(view.stale >= view.ryw, `each is a stale read too: ${view.text}`);
  assert.equal(db.stale, 0, `the source of truth serves no stale read: ${db.text}`);
  assert.equal(db.ryw, 0);
  assert.match(view.text, /lag [\d.]+m?s · p99 [\d.]+m?s/, view.text);
  assert.ok(Number(view.p99) > 0, "the face carries the staleness p99");
  const label = await page.locator(`g.node[data-node="orders-view"]`).getAttribute("aria-label");
  assert.match(label ?? "", /read model: \d+ versions behind its source, staleness p50/, `in words: ${label}`);
  assert.match(label ?? "", /read-your-writes violations/, label);
  const titles = await chartTitles(page);
  assert.ok(titles.some((t) => /read model orders-view, staleness ms/.test(t)), titles.join(" | "));
  assert.ok(titles.some((t) => /store orders-view, reads\/s/.test(t)), titles.join(" | "));
  await screenshot(page, "data-06-read-model");
  const chart = page.locator("#charts figure", { hasText: "read model orders-view" });
  await chart.scrollIntoViewIfNeeded();
  assert.match(await chart.locator("svg").getAttribute("aria-label"), /window \(mean\) now [\d.]+, p99 so far now [\d.]+/);
  await screenshot(page, "data-06b-staleness-chart");
  const violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
});

test("build a projection from the palette: a service writes, a consumer projects, the service reads it back", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  await dragFromPalette(page, "client", "", 290, 140);
  await dragFromPalette(page, "service", "", 470, 140);
  await dragFromPalette(page, "store", "", 470, 360);
  await dragFromPalette(page, "queue", "", 660, 140);
  await dragFromPalette(page, "consumer", "", 850, 140);
  await dragFromPalette(page, "store", "", 850, 360);
  await connectNodes(page, "client", "service");
  await connectNodes(page, "service", "store");
  await connectNodes(page, "service", "queue");
  await connectNodes(page, "queue", "consumer");
  await connectNodes(page, "consumer", "store-2");
  await connectNodes(page, "service", "store-2");
  await setField(page, "store-2", "projection_of", "store");
  await setField(page, "consumer", "handler", '[{"write": "store-2", "key": "order:{correlation_id}"}]');
  await setField(
    page,
    "service",
    "handler",
    '[{"write": "store", "key": "order:{correlation_id}"}, {"publish": "queue"}, {"read": "store-2", "key": "order:{correlation_id}"}]',
  );
  assert.doesNotMatch(await page.locator("#inspector").textContent(), /no edge|not a field|no node/);
  await runTo(page, 5, { speed: 10 });
  const view = await storeCounts(page, "store-2");
  await screenshot(page, "data-07-projection-built");
  // The service reads the read model right after its own write: the projection is not there
  // yet, so every read misses the order it just wrote.
  assert.ok(view.ryw > 10, `read-your-writes violations: ${view.text}`);
  assert.match(view.text, /lag [\d.]+m?s · p99 [\d.]+m?s/, view.text);
  const titles = await chartTitles(page);
  assert.ok(titles.some((t) => /read model store-2, staleness ms/.test(t)), titles.join(" | "));
  // A read model of a store that does not exist is refused where it is typed.
  await setField(page, "store-2", "projection_of", "nowhere");
  assert.match(await page.locator("#inspector").textContent(), /no node of that name/);
});

test("build a Kafka consumer whose handler writes a store, keyed by the record's place", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  await dragFromPalette(page, "kafka_producer", "", 300, 240);
  await dragFromPalette(page, "topic", "", 500, 240);
  await dragFromPalette(page, "kafka_consumer", "", 700, 240);
  await dragFromPalette(page, "store", "", 900, 240);
  await connectNodes(page, "kafka-producer", "topic");
  await connectNodes(page, "topic", "kafka-consumer");
  const tip = await connectNodes(page, "kafka-consumer", "store");
  assert.match(tip ?? "", /reads and writes/, `a Kafka consumer connects to a store: ${tip}`);
  const c = await centre(node("kafka-consumer"));
  await page.mouse.click(c.x, c.y - 20);
  const field = page.locator(`#inspector [data-field="handler"]`);
  await field.click();
  await field.fill('[{"write": "store", "key": "record:{partition}:{offset}", "idempotency_key": "{partition}:{offset}"}]');
  await field.press("Tab");
  assert.doesNotMatch(await page.locator("#inspector").textContent(), /no edge|not a field|no node/);
  await runTo(page, 8, { speed: 10 });
  const s = await storeCounts(page, "store");
  await screenshot(page, "data-08-kafka-consumer-built");
  const [, keys, writes] = s.text.match(/(\d+) keys · (\d+) writes/);
  assert.ok(Number(keys) > 0, `the consumer's writes reached the store: ${s.text}`);
  assert.equal(keys, writes, "each record written once");
  // A template that reads what a record does not have is refused where it is typed.
  await page.mouse.click(c.x, c.y - 20);
  await field.click();
  await field.fill('[{"write": "store", "key": "job:{job_id}"}]');
  await field.press("Tab");
  assert.match(await page.locator("#inspector").textContent(), /not BullMQ jobs/);
});

test("build a consumer that produces to a topic, read by a Kafka consumer that writes a store", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  await dragFromPalette(page, "producer", "", 300, 140);
  await dragFromPalette(page, "queue", "", 500, 140);
  await dragFromPalette(page, "consumer", "", 700, 140);
  await dragFromPalette(page, "topic", "", 700, 340);
  await dragFromPalette(page, "kafka_consumer", "", 500, 340);
  await dragFromPalette(page, "store", "", 300, 340);
  await connectNodes(page, "producer", "queue");
  await connectNodes(page, "queue", "consumer");
  const tip = await connectNodes(page, "consumer", "topic");
  assert.match(tip ?? "", /produces to/, `a consumer connects to a topic: ${tip}`);
  await connectNodes(page, "topic", "kafka-consumer");
  await connectNodes(page, "kafka-consumer", "store");
  await setField(page, "consumer", "handler", '[{"produce": "topic", "key": "order-{message_id}"}]');
  assert.doesNotMatch(await page.locator("#inspector").textContent(), /no edge|not a field|no node/);
  await setField(page, "kafka-consumer", "handler", '[{"write": "store", "key": "{record_key}"}]');
  assert.doesNotMatch(await page.locator("#inspector").textContent(), /no edge|not a field|no node/);
  await runTo(page, 8, { speed: 10 });
  const s = await storeCounts(page, "store");
  await screenshot(page, "data-10-consumer-produces");
  const [, keys, writes] = s.text.match(/(\d+) keys · (\d+) writes/);
  assert.ok(Number(keys) > 0, `the records the consumer produced reached the store: ${s.text}`);
  assert.equal(keys, writes, "one record per message, each key once");
  // A produce step to a node that is not a topic is refused where it is typed.
  await setField(page, "consumer", "handler", '[{"produce": "store"}]');
  assert.match(await page.locator("#inspector").textContent(), /a produce step produces to a topic/);
});

test("one order across HTTP, RabbitMQ, BullMQ and Kafka reaches the read model", async () => {
  const page = await openInContext("?example=order-journey", {}, "#stage");
  await runTo(page, 8, { speed: 25 });
  const view = await storeCounts(page, "orders-view");
  await screenshot(page, "data-11-order-journey");
  // The read model shows the orders' versions: their windows span the whole path.
  assert.match(view.text, /lag [\d.]+m?s · p99 [\d.]+m?s/, view.text);
  assert.ok(Number(view.p99) > 0, `orders reached the read model through all four paradigms: ${view.text}`);
  const db = await storeCounts(page, "orders-db");
  assert.match(db.text, /\d+ keys · \d+ writes/, db.text);
  const violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
});

test("a consumer calling a payment service: a timed-out attempt and a crash mid-call charge twice", async () => {
  const page = await openInContext("?example=data-payment-calls", {}, "#stage");
  // The consumer's edge to the service is a call link, with its policies.
  const link = page.locator(`line.edge-focus[aria-label$="from payer to bank"]`);
  assert.match((await link.getAttribute("aria-label")) ?? "", /^call from payer to bank/);
  await runTo(page, 10, { speed: 25 });
  const charges = await storeCounts(page, "charges");
  await screenshot(page, "data-10-payment-calls");
  // Timed-out attempts that bank finished anyway, and the calls out at the two crashes.
  assert.ok(charges.duplicates >= 2, `charges made twice: ${charges.text}`);
  const violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
});

test("build a consumer that calls a service, from the palette", async () => {
  const page = await openInContext("", {}, "#stage");
  await dragFromPalette(page, "producer", "", 260, 240);
  await dragFromPalette(page, "queue", "", 460, 240);
  await dragFromPalette(page, "consumer", "", 660, 240);
  await dragFromPalette(page, "service", "", 860, 240);
  await connectNodes(page, "producer", "queue");
  await connectNodes(page, "queue", "consumer");
  const tip = await connectNodes(page, "consumer", "service");
  assert.match(tip ?? "", /calls/, `a consumer connects to a service: ${tip}`);
  await setField(page, "consumer", "handler", '[{"call": "service"}]');
  const problems = await page.locator("#inspector").textContent();
  assert.doesNotMatch(problems, /makes no calls|is a service;/, "the call step is taken");
  await runTo(page, 3, { speed: 25 });
  // The consumer's calls reached the service: its call edge counts them, per call.
  const stats = page.locator(`g.edge.call text.call-stats`);
  assert.match((await stats.textContent()) ?? "", /^1\.0× per call/, "one attempt per call, no retries");
  await screenshot(page, "data-11-consumer-calls");
});

test("a service with three inputs is one process: one frame, down and back together", async () => {
  const page = await openInContext("?example=service-inputs", {}, "#stage");
  const frame = page.locator(`g.service-group[data-group="orders"]`);
  assert.equal(await frame.getAttribute("data-inputs"), "refunder,payment-listener");
  assert.match((await frame.textContent()) ?? "", /service orders · 2 other inputs/);
  // The frame holds the service and its inputs: compared in the drawing's own coordinates, all
  // in one frame, so the opening view's framing (applied on a later frame) cannot come between.
  const inside = await page.evaluate(() => {
    const f = document.querySelector(`g.service-group[data-group="orders"] rect`).getBBox();
    return Object.fromEntries(["orders", "refunder", "payment-listener", "orders-db"].map((name) => {
      const n = document.querySelector(`g.node[data-node="${name}"] .shape`).getBBox();
      return [name, n.x >= f.x && n.y >= f.y && n.x + n.width <= f.x + f.width && n.y + n.height <= f.y + f.height];
    }));
  });
  assert.deepEqual(inside, { orders: true, refunder: true, "payment-listener": true, "orders-db": false });
  // Screen readers hear which process each node runs in.
  const label = (name) => page.locator(`g.node[data-node="${name}"]`).getAttribute("aria-label");
  assert.match((await label("refunder")) ?? "", /runs in service orders's process/);
  assert.match((await label("orders")) ?? "", /runs refunder, payment-listener in its process/);
  // At 5 s the service crashes, and its inputs with it; at 7 s all three are back.
  const down = async (name) => /\bdown\b/.test((await page.locator(`g.node[data-node="${name}"]`).getAttribute("class")) ?? "");
  await runTo(page, 8, { speed: 25 });
  for (const name of ["orders", "refunder", "payment-listener"]) {
    assert.equal(await down(name), false, `${name} is back`);
  }
  await scrubTo(page, "6000000");
  for (const name of ["orders", "refunder", "payment-listener"]) {
    assert.equal(await down(name), true, `${name} is down at 6 s`);
  }
  assert.equal(await down("orders-db"), false, "the store is not in the process");
  await screenshot(page, "data-12-service-inputs-down");
  // The service's inputs are one of its settings.
  const c = await centre(page.locator(`g.node[data-node="orders"]`));
  await page.mouse.click(c.x, c.y - 20);
  const field = page.locator(`#inspector [data-field="inputs"]`);
  assert.match(await field.inputValue(), /refunder/);
  // The inspector lists the inputs with their handlers; one selects its node, whose inspector
  // leads back to the service.
  const input = page.locator(`#inspector button[data-select-node="refunder"]`);
  assert.match((await input.textContent()) ?? "", /consumer refunder, a handler of 1 step/);
  let violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
  await input.focus();
  await page.keyboard.press("Enter");
  await page.waitForSelector(`#inspector .panel[data-selected="refunder"]`);
  assert.match(await page.locator("#inspector .process-section").textContent(), /Runs in the process of service orders/);
  await page.locator(`#inspector button[data-select-node="orders"]`).click();
  await page.waitForSelector(`#inspector .panel[data-selected="orders"]`);
  await screenshot(page, "data-13-service-inspector");
  // The text view says it too.
  await page.click("#tab-text");
  assert.match(await page.locator(`#text-view tr[data-text-node="refunder"]`).textContent(), /in service orders's process/);
  assert.match(await page.locator(`#text-view tr[data-text-node="orders"]`).textContent(), /with refunder, payment-listener in its process/);
  violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
});
