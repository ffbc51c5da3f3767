// Kafka in the playground, as a newcomer meets it: build a producer, a topic and a group of two
// consumers from the palette, see records land in partitions by key, crash a consumer and see
// the rebalance move its partitions to the other after the session timeout, and see the
// survivor's lag grow and drain. Screenshots in artifacts/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, openInContext, axe, screenshot, centreOf as centre, dragFromPalette, connectNodes, runTo } from "./harness.mjs";

useServerAndBrowser();

test("build producer → topic → a group of two, crash one, watch the rebalance and the lag", async () => {
  const page = await openInContext("", {}, "#stage");
  const node = (name) => page.locator(`g.node[data-node="${name}"]`);
  const nowUs = async () => Number(await page.locator("#clock").getAttribute("data-now-us"));
  async function drag(kind, x, y) {
    await page.locator(`.palette-item[data-kind="${kind}"]`).scrollIntoViewIfNeeded();
    await dragFromPalette(page, kind, "", x, y);
  }
  async function selectNode(name) {
    const c = await centre(node(name));
    await page.mouse.click(c.x, c.y - 20);
  }
  async function play(speed) {
    await page.selectOption("#speed", String(speed));
    await page.click('button[data-action="play"]');
  }
  async function pause() {
    await page.click('button[data-action="pause"]');
  }
  const consumer = (name) => page.locator(`g.node-face[data-face="${name}"] g.consumer-state`);
  const partitionsOf = async (name) => {
    const p = await consumer(name).getAttribute("data-partitions");
    return p ? p.split(",") : [];
  };
  const lagOf = async (name) => Number(await consumer(name).getAttribute("data-lag"));

  // Build: the palette's producer writes four customers' keys; the topic has three partitions.
  await drag("kafka_producer", 320, 220);
  await drag("topic", 580, 220);
  await drag("kafka_consumer", 840, 150);
  await drag("kafka_consumer", 840, 300);
  await connectNodes(page, "kafka-producer", "topic");
  const tip = await connectNodes(page, "topic", "kafka-consumer");
  assert.match(tip, /is read by/, `the connection says what it means: ${tip}`);
  await connectNodes(page, "topic", "kafka-consumer-2");
  assert.equal(await page.locator("g.edge.produce").count(), 1);
  assert.equal(await page.locator("g.edge.subscribe").count(), 2);
  await screenshot(page, "kafka-01-built");

  // The group forms (after the initial rebalance delay) and splits the three partitions.
  await runTo(page, 12);
  const a = await partitionsOf("kafka-consumer");
  const b = await partitionsOf("kafka-consumer-2");
  assert.deepEqual([...a, ...b].sort(), ["topic-0", "topic-1", "topic-2"], `range splits the partitions: ${a} / ${b}`);
  // Records land by key: each partition's cells carry their key's colour class.
  const cells = await page.locator("g.partition rect.cell").evaluateAll((els) => els.map((e) => e.getAttribute("class")));
  assert.ok(cells.length > 5 && cells.every((c) => /\bk[0-7]\b/.test(c)), `keyed cells: ${cells.slice(0, 5)}`);
  // Each partition shows where the group has committed, and where its reader fetches next.
  assert.ok((await page.locator('g.node-face[data-face="topic"] line.cursor').count()) >= 1, "committed offsets drawn");
  assert.ok((await page.locator('g.node-face[data-face="topic"] path.position').count()) >= 1, "positions drawn");
  // Each log's ends: the high watermark with its offset, and the log start (or a mark that
  // older records are off to the left).
  const rows = await page.locator('g.node-face[data-face="topic"] g.partition').evaluateAll((gs) =>
    gs.map((g) => ({
      end: g.dataset.end,
      shown: g.querySelector("text.end-offset")?.textContent,
      hw: !!g.querySelector("line.hw"),
      start: !!g.querySelector("line.log-start, text.older"),
      title: g.querySelector("title")?.textContent,
    })));
  assert.equal(rows.length, 3);
  for (const r of rows) {
    assert.ok(r.hw && r.start && r.shown === r.end, `marks: ${JSON.stringify(r)}`);
    assert.match(r.title, /log start offset \d+, high watermark \d+/);
  }
  // A key is in one partition only: the log's keys, per partition, from the event log.
  if ((await page.locator("#tab-events").getAttribute("aria-selected")) !== "true") await page.click("#tab-events");
  await page.locator("#log-filter").fill("appended");
  const log = await page.locator("#drawer-panel").textContent();
  const where = {};
  for (const m of log.matchAll(/partition=(\d+) offset=\d+ message=\d+ key=(\w+)/g)) {
    (where[m[2]] ??= new Set()).add(m[1]);
  }
  assert.ok(Object.keys(where).length >= 3, `several keys: ${JSON.stringify(Object.keys(where))}`);
  for (const [k, ps] of Object.entries(where)) assert.equal(ps.size, 1, `key ${k} in one partition: ${[...ps]}`);
  // A record opened from the log shows its own fields: where it is, its key and offset.
  await page.locator(".log-table tr.ev.appended").first().dblclick();
  await page.locator("#record-key").waitFor();
  assert.match(await page.locator("#record-key").textContent(), /^(alice|bob|carol|dave)$/);
  assert.match(await page.locator("#record-offset").textContent(), /^\d+$/);
  assert.match(await page.locator("#message-where").textContent(), /^in the log of topic-\d, at offset \d+$/);
  await screenshot(page, "kafka-02a-record");
  await page.click("#tab-events");
  await page.locator("#log-filter").fill("");
  // A topic's partitions only grow: lowering them is refused with Kafka's reason, and the log
  // stays as it was.
  await selectNode("topic");
  const partitions = page.locator('#inspector [data-field="partitions"]');
  await partitions.click();
  await partitions.fill("2");
  await partitions.press("Tab");
  await page.locator("#inspector").getByText(/InvalidPartitionsException/).waitFor();
  assert.equal(await page.locator('g.node-face[data-face="topic"] g.partition').count(), 3, "still three partitions");
  await page.keyboard.press("Escape");
  await screenshot(page, "kafka-02-consuming");
  assert.deepEqual(await axe(page), [], "axe with the Kafka nodes");

  // Crash the second consumer. Its partitions stay with it until its session times out (10 s).
  await selectNode("kafka-consumer-2");
  await page.click('button[data-fault="crash"]');
  const crashedAt = await nowUs();
  const gone = await partitionsOf("kafka-consumer-2");
  await runTo(page, crashedAt / 1e6 + 5, { speed: 5 });
  assert.equal((await partitionsOf("kafka-consumer")).length, a.length, "nothing moves before the session timeout");
  // At the session timeout the partitions visibly travel: chips along the subscriptions.
  await runTo(page, crashedAt / 1e6 + 9.5, { speed: 5 });
  await play(1);
  await page.waitForFunction(() => Number(document.querySelector("canvas#flights").dataset.partitionsMoving) > 0, null, { timeout: 15000 });
  await screenshot(page, "kafka-03a-partitions-moving");
  await pause();
  await runTo(page, crashedAt / 1e6 + 14, { speed: 5 });
  const after = await partitionsOf("kafka-consumer");
  assert.deepEqual(after.sort(), ["topic-0", "topic-1", "topic-2"], `the survivor owns everything: ${after} (took ${gone})`);
  const subtitle = await page.locator('g.node-face[data-face="kafka-consumer"] text.kind').textContent();
  assert.match(subtitle, /gen [2-9]/, `a new generation: ${subtitle}`);
  // The survivor starts from the crashed member's last committed offsets: lag, then it drains.
  const lagAfter = await lagOf("kafka-consumer");
  await screenshot(page, "kafka-03-rebalanced");
  await runTo(page, crashedAt / 1e6 + 40);
  const lagLater = await lagOf("kafka-consumer");
  assert.ok(lagLater <= Math.max(lagAfter, 5), `the lag drains: ${lagAfter} then ${lagLater}`);
  await page.locator("#log-filter").fill("member_removed");
  assert.match(await page.locator("#drawer-panel").textContent(), /reason=session_timeout/);
  await screenshot(page, "kafka-04-drained");
  // Replay: the survivor seeks to the beginning of its partitions and reads them again.
  await selectNode("kafka-consumer");
  await page.click('button[data-fault="replay"]');
  await runTo(page, crashedAt / 1e6 + 42, { speed: 2 });
  await page.locator("#log-filter").fill("offset_reset");
  const resets = await page.locator("#drawer-panel").textContent();
  assert.match(resets, /to=0 cause=seek/, "a seek to offset 0");
  assert.ok((await lagOf("kafka-consumer")) >= 0);
  // Lose the producer's next acknowledgement: it retries after request.timeout.ms (30 s), and
  // the broker, knowing the idempotent producer's sequence numbers, appends nothing twice.
  await selectNode("kafka-producer");
  await page.click('button[data-fault="lose-ack"]');
  await runTo(page, crashedAt / 1e6 + 76);
  await page.locator("#log-filter").fill("ack_lost");
  assert.match(await page.locator("#drawer-panel").textContent(), /producer=kafka-producer topic=topic/);
  await page.locator("#log-filter").fill("deduplicated");
  assert.match(await page.locator("#drawer-panel").textContent(), /producer=kafka-producer/, "the retry was deduplicated");
  assert.deepEqual(page.problems, []);
});

test("the cooperative example: one partition moves in a second round", async () => {
  const page = await openInContext("?example=kafka-cooperative-rebalance", {}, "#stage");
  await runTo(page, 25, { timeout: 40000 });
  const p3 = await page.locator('g.node-face[data-face="agg-3"] g.consumer-state').getAttribute("data-partitions");
  assert.equal(p3.split(",").length, 1, `the newcomer owns one partition: ${p3}`);
  if ((await page.locator("#tab-events").getAttribute("aria-selected")) !== "true") await page.click("#tab-events");
  await page.locator("#log-filter").fill("rebalance_completed");
  const log = await page.locator("#drawer-panel").textContent();
  assert.match(log, /withheld=\["readings-\d"\]/, "the first round withholds the partition that moves");
  await screenshot(page, "kafka-05-cooperative");
  assert.deepEqual(page.problems, []);
});
