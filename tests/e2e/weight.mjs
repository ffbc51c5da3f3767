// What each build's first view transfers, gzipped at level 9 (deterministic for one zlib): the
// page (index.html, its CSS and icon) and the build's JS and wasm. The editor is trunk's main
// app (`switchboard-web-<hash>`), the embed player the crate without its editor
// (`switchboard-player-<hash>`); Trunk.toml's loader downloads one of them per visit.
import { readdir, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const PAGE = [/^index\.html$/, /^app-[0-9a-f]+\.css$/, /^favicon-[0-9a-f]+\.svg$/];
const BUILDS = {
  editor: /^switchboard-web-[0-9a-f]+(_bg\.wasm|\.js)$/,
  player: /^switchboard-player-[0-9a-f]+(_bg\.wasm|\.js)$/,
};

/** `{ editor, player }`, each `{ bytes, files: { name: gzipped bytes } }`, from `dist`. */
export async function buildWeights(dist) {
  const names = (await readdir(dist, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  const gz = {};
  for (const f of names) gz[f] = gzipSync(await readFile(join(dist, f)), { level: 9 }).length;
  const out = {};
  for (const [build, own] of Object.entries(BUILDS)) {
    const files = names.filter((f) => own.test(f) || PAGE.some((p) => p.test(f)));
    const mine = files.filter((f) => own.test(f));
    if (mine.length !== 2) throw new Error(`dist/ should hold one JS and one wasm file of the ${build}, found ${mine.join(", ") || "none"}`);
    out[build] = { bytes: files.reduce((s, f) => s + gz[f], 0), files: Object.fromEntries(files.map((f) => [f, gz[f]])) };
  }
  return out;
}
