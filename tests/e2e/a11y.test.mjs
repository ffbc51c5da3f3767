// Accessibility in Chromium: axe-core (pinned) finds nothing in any state visited (the editor,
// a running example with a node selected, every drawer, every dialog and the File menu, both
// themes, the embedded player); a topology is built, run, inspected, deleted and restored with
// the keyboard alone; reduced motion keeps messages still and nothing starts by itself; at
// 200 % zoom and at 320 px wide the page scrolls and the canvas keeps a usable size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { server, browser, useServerAndBrowser, openInContext, axe, screenshot } from "./harness.mjs";

useServerAndBrowser();

const open = (query = "", options = {}) => openInContext(query, options, "#stage");

/** Asserts axe finds nothing, naming the state. */
const clean = async (page, state) => assert.deepEqual(await axe(page), [], `axe in ${state}`);

const active = (page) =>
  page.evaluate(() => {
    const a = document.activeElement;
    return a ? `${a.tagName.toLowerCase()}#${a.id}[${a.dataset.node ?? a.dataset.action ?? a.dataset.edgeFocus ?? ""}]` : "none";
  });

/** Presses Tab (or Shift+Tab) until the focused element matches `selector`; fails after `max`. */
async function tabTo(page, selector, { back = false, max = 80 } = {}) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return i;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  assert.fail(`${selector} not reached in ${max} ${back ? "Shift+Tab" : "Tab"} presses (at ${await active(page)})`);
}

/** Presses ArrowDown on the focused select until its value is `value`. */
async function chooseByKeys(page, value) {
  for (let i = 0; i < 20; i++) {
    if ((await page.evaluate(() => document.activeElement.value)) === value) return;
    await page.keyboard.press("ArrowDown");
  }
  assert.fail(`option ${value} not reached with the arrow keys`);
}

const said = (page) => page.locator("#announcer").textContent();

/** Waits until the live region says something matching `re` (it speaks at most every 1.5 s). */
async function hears(page, re) {
  try {
    await page.waitForFunction((src) => new RegExp(src).test(document.querySelector("#announcer").textContent), re.source, {
      timeout: 5000,
    });
  } catch {
    assert.fail(`the live region never said ${re}; it says ${JSON.stringify(await said(page))}`);
  }
}

/** Shows a drawer by its tab (a click on the open tab would close the drawer area). */
async function showTab(page, tab) {
  if ((await page.locator(tab).getAttribute("aria-selected")) !== "true") await page.click(tab);
  await page.locator(`${tab}[aria-selected="true"]`).waitFor();
}

test("axe finds nothing in the editor, a running example, every drawer, dialog and theme", async () => {
  for (const scheme of ["light", "dark"]) {
    const empty = await open("", { colorScheme: scheme });
    await clean(empty, `the empty editor (${scheme})`);
    await empty.context().close();
    const page = await open("?example=amqp-dead-letter", { colorScheme: scheme });
    await clean(page, `an example (${scheme})`);
    await page.click('button[data-action="play"]');
    await page.waitForFunction(() => Number(document.querySelector("#dlq-badge")?.dataset.count) > 0, null, { timeout: 10000 });
    await page.locator('g.node[data-node="worker"]').click();
    await page.locator('#inspector [data-selected="worker"]').waitFor();
    await clean(page, `a running example with a node selected (${scheme})`);
    for (const tab of ["#tab-events", "#tab-message", "#tab-trace", "#tab-metrics", "#tab-dead", "#tab-text", "#tab-policies"]) {
      await showTab(page, tab);
      await clean(page, `the drawer ${tab} (${scheme})`);
    }
    // The message drawer with a message in it.
    await showTab(page, "#tab-events");
    await page.locator("button.inspect").first().click();
    await page.locator(".message-inspector").waitFor();
    await clean(page, `the message drawer with a message (${scheme})`);
    // An edge selected.
    await page.locator('#inspector [data-select-edge]').first().click();
    await page.locator("#inspector [data-selected-edge]").waitFor();
    await clean(page, `an edge selected (${scheme})`);
    for (const [button, dialog] of [["share", "#share-dialog"], ["embed", "#embed-dialog"]]) {
      await page.locator(`button[data-action="${button}"]`).focus();
      await page.keyboard.press("Enter");
      await page.locator(`${dialog}[open]`).waitFor();
      assert.ok(await page.evaluate((d) => document.querySelector(d).contains(document.activeElement), dialog), "the focus enters the dialog");
      await clean(page, `the ${button} dialog (${scheme})`);
      // Modal: Tab stays inside.
      for (let i = 0; i < 8; i++) await page.keyboard.press("Tab");
      assert.ok(await page.evaluate((d) => document.querySelector(d).contains(document.activeElement), dialog), "Tab stays in the dialog");
      await page.keyboard.press("Escape");
      await page.locator(dialog).waitFor({ state: "detached" });
      assert.equal(await page.evaluate(() => document.activeElement.dataset.action), button, "the focus is back on its button");
    }
    await page.click("#file-menu-button");
    await page.locator("#file-menu-items").waitFor();
    await clean(page, `the File menu (${scheme})`);
    await page.keyboard.press("Escape");
    await page.context().close();
  }
  // The binding dialog.
  const page = await open("?example=amqp-exchange-types");
  const from = await page.locator("g.node.exchange").first().getAttribute("data-node");
  await page.locator(`g.node[data-node="${from}"]`).click();
  await page.locator("#connect-target").waitFor();
  const target = await page.locator('#connect-target option').evaluateAll((os) => os.map((o) => o.value));
  await page.selectOption("#connect-target", target[0]);
  await page.click('button[data-action="connect"]');
  await page.locator("#bind-dialog[open]").waitFor();
  await clean(page, "the binding dialog");
  assert.deepEqual(page.problems, []);
  await page.context().close();
  // The embedded player, with and without its controls.
  for (const q of ["?embed&example=amqp-dead-letter", "?embed&example=amqp-dead-letter&controls=none", "?embed&example=hello&editable"]) {
    const player = await open(q);
    await clean(player, `the player ${q}`);
    await player.context().close();
  }
});

test("keyboard only: build producer → exchange → queue → consumer, bind, run, inspect, delete, undo", async () => {
  const page = await open("");
  // Add four nodes from the palette.
  for (const [kind, type] of [["producer", ""], ["exchange", "direct"], ["queue", ""], ["consumer", ""]]) {
    const sel = type ? `.palette-item[data-kind="${kind}"][data-type="${type}"]` : `.palette-item[data-kind="${kind}"]`;
    await tabTo(page, sel);
    await page.keyboard.press("Enter");
    await page.waitForFunction((k) => document.querySelector("#announcer").textContent.includes("Added"), kind);
  }
  assert.equal(await page.locator("g.node").count(), 4);
  assert.match(await active(page), /button/, "the focus stays on the palette");
  // Tabbing onto a node does not select it; Enter does.
  await tabTo(page, 'g.node[data-node="producer"]');
  const before = await page.locator("#inspector [data-selected]").getAttribute("data-selected");
  await page.keyboard.press("Tab");
  assert.equal(await page.locator("#inspector [data-selected]").getAttribute("data-selected"), before, "focus is not selection");
  await tabTo(page, 'g.node[data-node="producer"]', { back: true });
  await page.keyboard.press("Enter");
  await page.locator('g.node[data-node="producer"][aria-pressed="true"]').waitFor();
  assert.match(await page.locator('g.node[data-node="producer"]').getAttribute("aria-label"), /^producer producer, .*not connected/);
  // I goes to the inspector; connect producer → direct-x there.
  const connect = async (to) => {
    await page.keyboard.press("i");
    await page.waitForFunction(() => document.activeElement.closest("#inspector"));
    await tabTo(page, "#connect-target");
    await chooseByKeys(page, to);
    await tabTo(page, 'button[data-action="connect"]');
    await page.keyboard.press("Enter");
  };
  await connect("direct-x");
  await page.locator("g.edge.publish").waitFor();
  await hears(page, /Connected: producer publishes to direct-x/);
  // Escape goes back to the node on the canvas.
  await page.keyboard.press("Escape");
  assert.equal(await active(page), 'g#[producer]');
  // The exchange asks for a routing key in a modal dialog.
  await tabTo(page, 'g.node[data-node="direct-x"]');
  await page.keyboard.press("Enter");
  await connect("queue");
  await page.locator("#bind-dialog[open]").waitFor();
  await page.waitForFunction(() => document.activeElement?.id === "bind-key");
  await page.keyboard.press("Control+a");
  await page.keyboard.type("orders.eu");
  await page.keyboard.press("Enter");
  await page.locator("g.edge.binding").waitFor();
  assert.equal(await active(page), 'button#[connect]', "the focus is back where the dialog was opened");
  await page.keyboard.press("Escape");
  await tabTo(page, 'g.node[data-node="queue"]');
  await page.keyboard.press("Enter");
  await connect("consumer");
  await page.locator("g.edge.consume").waitFor();
  await page.keyboard.press("Escape");
  // The binding is reachable: its name says its key, and the inspector changes it.
  await tabTo(page, "[data-edge-focus]:is([aria-label*='binding'])", { back: true });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "binding from direct-x to queue, routing key orders.eu");
  await page.keyboard.press("Enter");
  await page.locator("#inspector [data-selected-edge]").waitFor();
  await page.keyboard.press("i");
  await tabTo(page, '#inspector [data-field="routing_key"]');
  await page.keyboard.press("Control+a");
  await page.keyboard.type("orders.us");
  await page.keyboard.press("Tab");
  await page.waitForFunction(() => document.querySelector("g.edge.binding .edge-label")?.textContent === "orders.us");
  // Run: Play from the run bar, then pause with Space there.
  await tabTo(page, 'button[data-action="play"]');
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.steps) > 20);
  await tabTo(page, 'button[data-action="pause"]', { back: true });
  await page.keyboard.press("Space");
  await page.locator('button[data-action="play"]').waitFor();
  // Open a message from the event log.
  await tabTo(page, "#tab-events");
  await page.keyboard.press("Tab");
  await tabTo(page, "button.inspect");
  await page.keyboard.press("Enter");
  await page.locator(".message-inspector").waitFor();
  assert.equal(await page.locator("#tab-message").getAttribute("aria-selected"), "true");
  // Delete the queue, then undo.
  await tabTo(page, 'g.node[data-node="queue"]', { back: true, max: 120 });
  await page.keyboard.press("Enter");
  await page.keyboard.press("Delete");
  await page.locator('g.node[data-node="queue"]').waitFor({ state: "detached" });
  assert.equal(await active(page), "section#stage[]", "the focus lands on the canvas");
  await hears(page, /Deleted queue/);
  await page.keyboard.press("Control+z");
  await page.locator('g.node[data-node="queue"]').waitFor();
  assert.equal(await page.locator("g.edge").count(), 3, "its connections came back too");
  await screenshot(page, "a11y-keyboard");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("the focus never falls to the page: undo to the end, a focused node off screen", async () => {
  const page = await open("");
  for (const kind of ["producer", "queue"]) {
    await page.locator(`.palette-item[data-kind="${kind}"]`).focus();
    await page.keyboard.press("Enter");
  }
  await page.locator('button[data-action="undo"]').focus();
  await page.keyboard.press("Enter");
  await page.keyboard.press("Enter");
  await page.locator('button[data-action="undo"][disabled]').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.dataset.action), "redo", "Undo disabled: the focus moved to Redo");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Enter");
  await page.locator('button[data-action="redo"][disabled]').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.dataset.action), "undo", "and back");
  await page.context().close();
  // Zoomed in on one corner, Tab brings each node into view.
  const zoomed = await open("?example=stress-50-nodes");
  const stage = await zoomed.locator("#stage").boundingBox();
  await zoomed.mouse.move(stage.x + 20, stage.y + 20);
  await zoomed.mouse.wheel(0, -1500);
  await zoomed.waitForTimeout(200);
  const inside = (name) =>
    zoomed.evaluate((n) => {
      const st = document.querySelector("#stage").getBoundingClientRect();
      const r = document.querySelector(`g.node[data-node="${n}"]`).getBoundingClientRect();
      return r.left >= st.left && r.right <= st.right && r.top >= st.top && r.bottom <= st.bottom;
    }, name);
  const names = await zoomed.locator("g.node").evaluateAll((ns) => ns.map((n) => n.dataset.node));
  const last = names[names.length - 1];
  assert.equal(await inside(last), false, "the last node starts off screen");
  await zoomed.locator("#stage").focus();
  await tabTo(zoomed, `g.node[data-node="${last}"]`, { max: 200 });
  await zoomed.waitForFunction((n) => {
    const st = document.querySelector("#stage").getBoundingClientRect();
    const r = document.querySelector(`g.node[data-node="${n}"]`).getBoundingClientRect();
    return r.left >= st.left && r.right <= st.right && r.top >= st.top && r.bottom <= st.bottom;
  }, last);
  assert.deepEqual(zoomed.problems, []);
  await zoomed.context().close();
});

test("the File menu and the drawer tabs follow the ARIA patterns", async () => {
  const page = await open("?example=hello");
  const focused = () => page.evaluate(() => document.activeElement.id || document.activeElement.dataset.action);
  // Menu button: Arrow Down opens on the first item, arrows wrap, End, Escape back to the button.
  await page.locator("#file-menu-button").focus();
  await page.keyboard.press("ArrowDown");
  await page.locator("#file-menu-items").waitFor();
  assert.equal(await page.locator("#file-menu-button").getAttribute("aria-expanded"), "true");
  assert.equal(await focused(), "export");
  await page.keyboard.press("ArrowUp");
  assert.equal(await focused(), "record", "Arrow Up from the first item wraps to the last");
  await page.keyboard.press("Home");
  assert.equal(await focused(), "export");
  await page.keyboard.press("End");
  assert.equal(await focused(), "record");
  await page.keyboard.press("Escape");
  await page.locator("#file-menu-items").waitFor({ state: "hidden" });
  assert.equal(await focused(), "file-menu-button");
  // Tabs: one in the Tab order; arrows move and show; End and Home.
  assert.deepEqual(
    await page.locator('[role="tab"]').evaluateAll((ts) => ts.map((t) => t.tabIndex)),
    [0, -1, -1, -1, -1, -1, -1],
  );
  await page.locator("#tab-events").focus();
  await page.keyboard.press("ArrowRight");
  await page.locator('#tab-message[aria-selected="true"]').waitFor();
  assert.equal(await focused(), "tab-message");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await page.locator('#tab-policies[aria-selected="true"]').waitFor();
  assert.equal(await focused(), "tab-policies", "Arrow Left from the first tab wraps to the last");
  assert.equal(await page.locator("#drawer-panel").getAttribute("aria-labelledby"), "tab-policies");
  // The Trace drawer, by keyboard: its picker and export are in the Tab order.
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await page.locator('#tab-trace[aria-selected="true"]').waitFor();
  assert.equal(await focused(), "tab-trace");
  await page.keyboard.press("Home");
  await page.locator('#tab-events[aria-selected="true"]').waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("single-key shortcuts act only on the canvas and the run bar", async () => {
  const page = await open("?example=hello");
  await page.locator("#examples").focus();
  await page.keyboard.press(".");
  await page.keyboard.press("Space");
  await page.waitForTimeout(200);
  assert.equal(await page.locator("#clock").getAttribute("data-steps"), "0", "nothing happened from the header");
  await page.locator("#stage").focus();
  await page.keyboard.press(".");
  await page.waitForFunction(() => document.querySelector("#clock").dataset.steps === "1");
  await hears(page, /^0\.\d+s: sent message=1 /);
  assert.equal(await page.locator("#clock").getAttribute("aria-live"), null);
  assert.equal(await page.locator("#clock").getAttribute("role"), "timer", "the clock is not a live region");
  await page.context().close();
});

test("reduced motion: messages stand still while paused, and an embedded autoplay waits", async () => {
  const page = await open("?example=stress-50-nodes", { reducedMotion: "reduce" });
  await page.click('button[data-action="play"]');
  await page.waitForFunction(() => Number(document.querySelector("#flights").dataset.inFlight) > 5);
  await page.click('button[data-action="pause"]');
  const grab = () => page.evaluate(() => document.querySelector("#flights").toDataURL());
  const a = await grab();
  await page.waitForTimeout(400);
  assert.equal(await grab(), a, "paused with reduced motion: the canvas does not change");
  await page.context().close();

  const player = await open("?embed&example=hello&autoplay", { reducedMotion: "reduce" });
  await player.waitForTimeout(800);
  assert.equal(await player.locator("#clock").getAttribute("data-now-us"), "0", "autoplay did not start");
  await player.context().close();
  // Without reduced motion it does start, and with controls=none it can still be paused.
  const moving = await open("?embed&example=hello&autoplay&controls=none");
  await moving.waitForFunction(() => document.querySelector('button[data-action="player-toggle"]')?.getAttribute("aria-label") === "Pause");
  await moving.click('button[data-action="player-toggle"]');
  await moving.locator('button[data-action="player-toggle"][aria-label="Play"]').waitFor();
  assert.deepEqual(moving.problems, []);
  await moving.context().close();
});

for (const [w, h, what] of [[640, 360, "200 % zoom"], [320, 640, "320 px wide"]]) {
  test(`usable at ${what} (${w}×${h}): the page scrolls and the canvas keeps its size`, async () => {
    const page = await open("?example=amqp-dead-letter", { viewport: { width: w, height: h } });
    const stage = await page.locator("#stage").boundingBox();
    assert.ok(stage.height >= 200 && stage.width >= Math.min(w - 20, 300), `canvas ${stage.width}×${stage.height}`);
    const sizes = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
    assert.ok(sizes[0] <= w + 1, `no sideways scrolling (${sizes[0]} px wide)`);
    assert.ok(sizes[1] > h, "the page scrolls to the rest");
    // Everything is reachable: the run bar's Play scrolls into view and works.
    await page.locator('button[data-action="play"]').scrollIntoViewIfNeeded();
    await page.click('button[data-action="play"]');
    await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.steps) > 0);
    await screenshot(page, `a11y-${w}x${h}`);
    await clean(page, what);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}
