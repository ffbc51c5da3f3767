// The browser benchmark: first render, frame times with ~2,000 messages in flight on a
// 50-node topology, seek time over a 10-minute run, and the gzipped page weight. A
// benchmark, not a test: it asserts nothing and prints medians (machines here are noisy).
// Run it with scripts/bench-browser.sh, which builds the release page first.
import { serve, launch, newPage, dist } from "./harness.mjs";
import { buildWeights } from "./weight.mjs";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const ms = (x) => `${x.toFixed(1)} ms`;

// `node bench.mjs frames seek` runs only those parts (all by default).
const only = process.argv.slice(2);
const want = (part) => only.length === 0 || only.includes(part);

const server = await serve();
const browser = await launch();
const results = {};

// 1. First render: navigation start to the first frame with the app on screen (its palette
// items and buttons work from that frame: interactive), for the editor and for the embed
// player (its own build), with the first paint (the HTML's frame) before it.
async function firstRender(query) {
  const runs = [];
  const parts = { paint: [], wasm: [], start: [], app: [] };
  for (let i = 0; i < 7; i++) {
    const page = await newPage(browser);
    await page.goto(server.url + query);
    await page.waitForFunction(() => performance.getEntriesByName("switchboard-first-render").length > 0);
    const t = await page.evaluate(() => {
      const at = (name) => performance.getEntriesByName(name)[0].startTime;
      const wasm = performance.getEntriesByType("resource").find((e) => e.name.endsWith(".wasm"));
      const paint = performance.getEntriesByName("first-contentful-paint")[0];
      return { render: at("switchboard-first-render"), start: at("switchboard-start"), app: at("switchboard-app"), wasm: wasm ? wasm.responseEnd : NaN, paint: paint ? paint.startTime : NaN };
    });
    runs.push(t.render);
    for (const k of Object.keys(parts)) parts[k].push(t[k]);
    await page.close();
  }
  return { median: median(runs), runs, parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, median(v)])) };
}
if (want("render")) {
  results.firstRender = await firstRender("");
  results.playerRender = await firstRender("?embed=1&example=hello");
}

// 2. Frames: the 50-node stress example playing at 1×; each frame's work (simulate, draw the
// canvas, refresh the DOM) as the app measures it, and the interval between frames.
if (want("frames")) {
  const page = await newPage(browser);
  await page.goto(server.url + "?example=stress-50-nodes&bench");
  await page.locator("#clock").waitFor();
  await page.click('button[data-action="play"]');
  // Warm up until the links are full (a message takes a second to cross).
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) > 2_500_000, null, {
    timeout: 60_000,
  });
  const skip = await page.evaluate(() => (window.switchboardFrameMs ?? []).length);
  const intervals = await page.evaluate(
    () =>
      new Promise((done) => {
        const gaps = [];
        const inFlight = [];
        let last = performance.now();
        const start = last;
        const tick = (t) => {
          gaps.push(t - last);
          last = t;
          inFlight.push(Number(document.querySelector("#flights").dataset.inFlight));
          if (t - start < 5000) requestAnimationFrame(tick);
          else done({ gaps, inFlight });
        };
        requestAnimationFrame(tick);
      }),
  );
  const work = (await page.evaluate(() => Array.from(window.switchboardFrameMs ?? []))).slice(skip);
  results.frames = {
    workP50: median(work),
    workP95: pct(work, 95),
    intervalP50: median(intervals.gaps),
    intervalP95: pct(intervals.gaps, 95),
    inFlight: median(intervals.inFlight),
    frames: work.length,
  };
  await page.close();
}

// 3. Seek: play the stress example to 10 simulated minutes at 100×, then jump to moments across
// the run. Each seek is timed from the scrubber's input event until the handler returns (the
// checkpoint restore and re-simulation), and until the next frame has drawn it.
if (want("seek")) {
  const page = await newPage(browser);
  await page.goto(server.url + "?example=stress-50-nodes");
  await page.locator("#clock").waitFor();
  await page.selectOption("#speed", "100");
  await page.click('button[data-action="play"]');
  const started = Date.now();
  await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.nowUs) >= 600_000_000, null, {
    timeout: 600_000,
    polling: 500,
  });
  const wallToTenMinutes = (Date.now() - started) / 1000;
  await page.click('button[data-action="pause"]');
  const horizon = Number(await page.locator("#clock").getAttribute("data-horizon-us"));
  const targets = [0.5, 0.1, 0.9, 0.33, 0.66, 0.05, 0.75, 0.25, 0.95, 0.45, 0.6, 0.15];
  const handler = [];
  const drawn = [];
  for (const f of targets) {
    const r = await page.evaluate(
      (t) =>
        new Promise((done) => {
          const s = document.querySelector("#scrubber");
          const t0 = performance.now();
          s.value = String(t);
          s.dispatchEvent(new Event("input", { bubbles: true }));
          const t1 = performance.now();
          requestAnimationFrame(() => done({ handler: t1 - t0, drawn: performance.now() - t0 }));
        }),
      Math.floor(horizon * f),
    );
    handler.push(r.handler);
    drawn.push(r.drawn);
  }
  results.seek = {
    horizonS: horizon / 1e6,
    wallToTenMinutes,
    handlerMedian: median(handler),
    handlerMax: Math.max(...handler),
    drawnMedian: median(drawn),
    drawnMax: Math.max(...drawn),
    steps: Number(await page.locator("#clock").getAttribute("data-steps")),
  };
  await page.close();
}

// 4. Page weight: what each build's first view transfers, gzipped at level 9 (weight.mjs; the
// size check, size.test.mjs, holds them under their ceilings).
if (want("weight")) results.weight = await buildWeights(dist);

await browser.close();
await server.close();

const r = results;
console.log("| what | budget | measured |");
console.log("|---|---|---|");
for (const [what, f] of [["editor", r.firstRender], ["embed player", r.playerRender]]) {
  if (!f) continue;
  console.log(`| ${what}: first view painted (the HTML's frame) | ≤ 150 ms | ${ms(f.parts.paint)} median of 7 |`);
  console.log(`| ${what}: interactive (first render) | ≤ 400 ms | ${ms(f.median)} median of 7 (${f.runs.map((x) => x.toFixed(0)).join(", ")}); medians: wasm downloaded ${ms(f.parts.wasm)}, wasm started ${ms(f.parts.start)}, app created ${ms(f.parts.app)} |`);
}
if (r.frames)
  console.log(
    `| frame work, ${r.frames.inFlight} messages in flight, 50 nodes | p95 ≤ 16.7 ms | p50 ${ms(r.frames.workP50)}, p95 ${ms(r.frames.workP95)} over ${r.frames.frames} frames; frame interval p50 ${ms(r.frames.intervalP50)}, p95 ${ms(r.frames.intervalP95)} |`,
  );
if (r.seek)
  console.log(
    `| seek in a ${r.seek.horizonS.toFixed(0)} s run | ≤ 100 ms | handler median ${ms(r.seek.handlerMedian)}, max ${ms(r.seek.handlerMax)}; to the next frame median ${ms(r.seek.drawnMedian)}, max ${ms(r.seek.drawnMax)} (10 minutes took ${r.seek.wallToTenMinutes.toFixed(0)} s of wall time at 100×) |`,
  );
if (r.weight) {
  for (const [build, budget] of [["editor", 500], ["player", 300]]) {
    const w = r.weight[build];
    console.log(`| ${build} transfer, gzipped | ≤ ${budget} KB | ${(w.bytes / 1024).toFixed(1)} KB |`);
    for (const [f, b] of Object.entries(w.files)) console.log(`|   ${f} | | ${(b / 1024).toFixed(1)} KB |`);
  }
}
