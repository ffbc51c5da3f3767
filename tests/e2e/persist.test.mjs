// Autosave, recovery and files in Chromium: work survives a reload with its undo history;
// corrupt or foreign stored data gives a recoverable message (and the data can be downloaded);
// export downloads a scenario the CLI validates; import opens one, or says what is wrong.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile, access } from "node:fs/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { serve, launch, newPage, screenshot, artifacts, root } from "./harness.mjs";

let server;
let browser;
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function fresh() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  await page.goto(server.url);
  await page.locator("#clock").waitFor();
  return page;
}

test("work and its undo history survive a reload", async () => {
  const page = await fresh();
  for (const kind of ["producer", "queue"]) await page.locator(`.palette-item[data-kind="${kind}"]`).click();
  await page.locator('g.node[data-node="queue"]').click();
  await page.locator('#inspector [data-field="x-message-ttl"]').fill("1500");
  await page.locator('#inspector [data-field="x-message-ttl"]').press("Tab");
  await page.reload();
  await page.locator("#clock").waitFor();
  await page.locator('g.node[data-node="queue"]').waitFor();
  assert.equal(await page.locator("g.node").count(), 2, "both nodes are back");
  assert.match(await page.locator("#notice").textContent(), /Restored your work/);
  await page.locator('g.node[data-node="queue"]').click();
  assert.equal(await page.locator('#inspector [data-field="x-message-ttl"]').inputValue(), "1500");
  // The history came back too: three undos empty the canvas.
  for (let i = 0; i < 3; i++) await page.keyboard.press("Control+z");
  await page.waitForFunction(() => document.querySelectorAll("g.node").length === 0);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("corrupt or foreign saved data: a message, an empty canvas, and the data kept", async () => {
  for (const [bad, why] of [
    ["{ not json", /not valid JSON/],
    [JSON.stringify({ app: "someone-else", data: 1 }), /not a Switchboard autosave/],
    [
      JSON.stringify({ app: "switchboard", kind: "autosave", format: 1, doc: { version: 1, nodes: [{ id: "<b>x</b>", kind: "queue", config: { bogus: 1 } }], edges: [] } }),
      /doc\.nodes\[0\]/,
    ],
  ]) {
    const page = await fresh();
    await page.evaluate((t) => localStorage.setItem("switchboard.autosave", t), bad);
    await page.reload();
    await page.locator("#recovery").waitFor();
    assert.match(await page.locator("#recovery").textContent(), why);
    assert.equal(await page.locator("g.node").count(), 0, "an empty canvas, not a blank page");
    assert.equal(await page.evaluate(() => localStorage.getItem("switchboard.autosave.rejected")), bad);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click('button[data-action="download-rejected"]'),
    ]);
    const path = join(artifacts, "rejected-autosave.json");
    await download.saveAs(path);
    assert.equal(await readFile(path, "utf8"), bad, "the bad data downloads as it was");
    await screenshot(page, "persist-recovery");
    await page.click('button[data-action="dismiss-recovery"]');
    await page.locator("#recovery").waitFor({ state: "detached" });
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test("export downloads a scenario the CLI runs; import opens it again", async () => {
  const page = await fresh();
  await page.selectOption("#examples", "amqp-dead-letter");
  await page.locator('g.node[data-node="orders.dlq"]').waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), page.click('button[data-action="export"]')]);
  assert.match(download.suggestedFilename(), /\.switchboard\.json$/);
  const path = join(artifacts, download.suggestedFilename());
  await download.saveAs(path);
  const exported = JSON.parse(await readFile(path, "utf8"));
  assert.equal(exported.version, 1);
  assert.ok(exported.nodes.some((n) => n.id === "orders.dlq"));
  // The same file in the CLI (built by the native tests before these run).
  const cli = join(root, "target", "debug", "switchboard");
  const haveCli = await access(cli).then(() => true, () => false);
  if (haveCli) {
    const { stdout } = await promisify(execFile)(cli, ["validate", path]);
    assert.match(stdout, /ok|valid/i, stdout);
  }
  // Import it into an empty canvas.
  await page.selectOption("#examples", "");
  await page.waitForFunction(() => document.querySelectorAll("g.node").length === 0);
  await page.setInputFiles("#import-file", path);
  await page.locator('g.node[data-node="orders.dlq"]').waitFor();
  assert.match(await page.locator("#notice").textContent(), /Opened/);
  // A broken file is refused with what is wrong and where; the canvas keeps its work.
  const broken = join(artifacts, "broken.switchboard.json");
  await writeFile(broken, JSON.stringify({ version: 1, nodes: [{ id: "q", kind: "queue", config: { "x-overflow": "explode" } }], edges: [] }));
  await page.setInputFiles("#import-file", broken);
  await page.waitForFunction(() => /cannot be opened/.test(document.querySelector("#notice").textContent));
  assert.match(await page.locator("#notice").textContent(), /nodes\[0\]/);
  assert.equal(await page.locator('g.node[data-node="orders.dlq"]').count(), 1, "the work is untouched");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
