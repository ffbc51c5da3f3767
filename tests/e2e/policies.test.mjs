// RabbitMQ policies in the playground: the Policies drawer lists them and sets and clears them,
// before the run and while it plays; the inspector's "In force" shows each queue setting and
// where it comes from. Screenshots in artifacts/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, openInContext, axe, screenshot } from "./harness.mjs";

useServerAndBrowser();

const open = (query = "") => openInContext(query, {}, "#stage");

/** The inspector's "In force" rows of the selected node: {setting: [value, from]}. */
const inForce = (page) =>
  page.locator("#inspector section.in-force tr[data-setting]").evaluateAll((rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.setting, [r.children[1].textContent, r.children[2].textContent]])),
  );

async function showPolicies(page) {
  if ((await page.locator("#tab-policies").getAttribute("aria-selected")) !== "true") await page.click("#tab-policies");
  await page.locator(".policies-drawer").waitFor();
}

async function setPolicy(page, policy, { operator = false } = {}) {
  await page.fill("#policy-json", JSON.stringify(policy));
  if ((await page.isChecked("#policy-operator")) !== operator) await page.click("#policy-operator");
  await page.click('button[data-action="policy-set"]');
}

test("policies are listed, set and cleared, and the inspector says where each setting comes from", async () => {
  const page = await open("?example=amqp-policies");
  await showPolicies(page);
  const names = await page.locator("table.policies tr[data-policy]").evaluateAll((rows) => rows.map((r) => r.dataset.policy));
  assert.deepEqual(names, ["orders"]);
  await page.locator('g.node[data-node="orders"]').click();
  await page.locator('#inspector section.in-force[data-in-force="orders"]').waitFor();
  assert.deepEqual(await inForce(page), {
    "message-ttl": ["30000", "policy orders"],
    "dead-letter-exchange": ['"dlx"', "policy orders"],
  });
  assert.deepEqual(await axe(page), [], "axe on the Policies drawer");
  await screenshot(page, "policies-drawer");

  // While the run plays: an operator policy caps the queue at once.
  await page.click('button[data-action="play"]');
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 500000, null, { timeout: 10000 });
  await page.click('button[data-action="pause"]');
  await setPolicy(page, { name: "cap", pattern: ".*", "apply-to": "queues", definition: { "max-length": 2, "message-ttl": 60000 } }, { operator: true });
  await page.locator('table.policies[data-operator="true"] tr[data-policy="cap"]').waitFor();
  await page.locator('g.node[data-node="orders"]').click();
  await page.waitForFunction(() => document.querySelector('#inspector tr[data-setting="max-length"]'));
  const settings = await inForce(page);
  assert.deepEqual(settings["max-length"], ["2", "operator policy cap"]);
  assert.deepEqual(settings["message-ttl"], ["30000", "policy orders"], "the lower of the two");
  // The change is in the event log.
  await page.click("#tab-events");
  const logged = await page.locator("#drawer-panel").textContent();
  assert.match(logged, /policy_applied/);
  await screenshot(page, "policies-in-force");

  // A bad policy says what is wrong and changes nothing.
  await showPolicies(page);
  await setPolicy(page, { name: "bad", pattern: "(", definition: { "max-length": 1 } });
  await page.locator("#policy-json-error").waitFor();
  assert.match(await page.locator("#policy-json-error").textContent(), /pattern.*missing \)/);
  assert.equal(await page.locator('tr[data-policy="bad"]').count(), 0);

  // Cleared: the setting goes back to what the policy alone says.
  await page.click('tr[data-policy="cap"] button[data-action="policy-clear"]');
  await page.locator('tr[data-policy="cap"]').waitFor({ state: "detached" });
  await page.locator('g.node[data-node="orders"]').click();
  await page.waitForFunction(() => !document.querySelector('#inspector tr[data-setting="max-length"]'));
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("an exchange made internal takes no publishes: the producer can no longer connect to it", async () => {
  const page = await open("?example=amqp-policies");
  const targets = async () => {
    await page.locator('g.node[data-node="shop"]').click();
    await page.locator("#connect-target").waitFor();
    return page.locator("#connect-target option").evaluateAll((os) => os.map((o) => o.value));
  };
  assert.ok((await targets()).includes("dlx"), "a producer may publish to an exchange");
  await page.locator('g.node[data-node="dlx"]').click();
  await page.locator('#inspector [data-selected="dlx"] input[data-field="internal"]').check();
  await page.waitForFunction(() => document.querySelector('#inspector input[data-field="internal"]')?.checked);
  assert.ok(!(await targets()).includes("dlx"), "not to an internal one (403 ACCESS_REFUSED)");
  assert.match(await page.locator('g.node-face[data-face="dlx"]').textContent(), /internal fanout exchange/);
  await screenshot(page, "internal-exchange");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
