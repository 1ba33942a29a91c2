// The layers of src/, checked at every build (npm run build): no import runs back up, and no
// import circles. Bottom up:
//   0  mail/ (raw message, header, address, dates, envelope: imports nothing of ours), core/
//      (errors, the outcome table, host facts: imports only core/)
//   1  config/, classify/, log/, store/, crypto/, message/, relay/  (may import each other, and 0)
//   2  pipeline/  (intake, commit, the send step, the failure policy, the runner)
//   3  serve/, ops/, demo/, cli/  (the doors and the commands)
// Usage: node tools/check-layers.mjs [--graph] [DIR]   (DIR defaults to this checkout's src/)
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const LAYER = {
  mail: 0,
  core: 0,
  config: 1,
  classify: 1,
  log: 1,
  store: 1,
  crypto: 1,
  message: 1,
  relay: 1,
  pipeline: 2,
  serve: 3,
  ops: 3,
  demo: 3,
  cli: 3,
};
const src = resolve(process.argv.find((a, i) => i > 1 && !a.startsWith("--")) ?? join(import.meta.dirname, "..", "src"));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.c?ts$/.test(name) ? [path] : [];
  });
}

const graph = new Map();
for (const file of files(src)) {
  const text = readFileSync(file, "utf8");
  const deps = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) =>
    resolve(dirname(file), m[1])
      .replace(/\.js$/, ".ts")
      .replace(/\.cjs$/, ".cts"),
  );
  graph.set(file, [...new Set(deps)]);
}

const folder = (file) => relative(src, file).split("/")[0];
const layerOf = (file) => LAYER[folder(file)] ?? 3;
const problems = [];
for (const [file, deps] of graph) {
  for (const dep of deps) {
    const from = folder(file),
      to = folder(dep);
    const up = layerOf(dep) > layerOf(file);
    const bottom = (from === "mail" && to !== "mail") || (from === "core" && to !== "core");
    if (up || bottom) problems.push(`upward import: ${relative(src, file)} -> ${relative(src, dep)}`);
  }
}

// Circles: strongly connected components of more than one file (Tarjan).
let index = 0;
const stack = [],
  on = new Set(),
  idx = new Map(),
  low = new Map(),
  circles = [];
function visit(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  on.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      on.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) circles.push(scc.map((f) => relative(src, f)).sort());
  }
}
for (const v of graph.keys()) if (!idx.has(v)) visit(v);
for (const c of circles) problems.push(`import circle: ${c.join(" <-> ")}`);

if (process.argv.includes("--graph")) {
  const edges = new Map();
  for (const [file, deps] of graph)
    for (const dep of deps) {
      const key = `${folder(file)} -> ${folder(dep)}`;
      if (folder(file) !== folder(dep)) edges.set(key, (edges.get(key) ?? 0) + 1);
    }
  for (const [edge, n] of [...edges].sort()) console.log(`${edge}  (${n})`);
}
const upward = problems.filter((p) => p.startsWith("upward")).length;
console.log(`layers: ${graph.size} files, ${upward} upward imports, ${circles.length} import circles`);
if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exitCode = 1;
}
