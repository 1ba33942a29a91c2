#!/usr/bin/env node
// The bad-input property of `npm test` (test/property/bad-input.ts), for as many cases as you ask:
//   npm run build && node bench/fuzz-soak.mjs [CASES=100000] [SEED]
// Prints progress every 5,000 cases and a summary; exits 1 with the shrunk counterexample on a failure.
import { BadInputBench } from "../dist/test/property/bad-input.js";

const total = Number(process.argv[2] ?? 100_000);
const seed = process.argv[3] === undefined ? Date.now() % 2 ** 31 : Number(process.argv[3]);
const chunk = 5_000;
const bench = new BadInputBench();
await bench.start();
const started = Date.now();
console.log(`fuzz soak: ${total} cases, seed ${seed}`);
try {
  for (let done = 0, round = 0; done < total; done += chunk, round++) {
    await bench.run(Math.min(chunk, total - done), seed + round);
    const s = (Date.now() - started) / 1000;
    console.log(
      `${bench.tally.cases} cases, ${bench.tally.relayed} relayed (exit 0), ${bench.tally.deferred} deferred (exit 75), ${s.toFixed(0)} s`,
    );
  }
  console.log(`PASS: ${bench.tally.cases} cases, no failure, ${((Date.now() - started) / 1000).toFixed(0)} s`);
} catch (err) {
  console.log(`FAIL after ${bench.tally.cases} cases: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await bench.stop();
}
