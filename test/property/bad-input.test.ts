/** 2,000 generated and mutated messages through the deliver core: exit 0/75, no trace, no leak, nothing lost. */
import { after, before, it } from "node:test";
import { BadInputBench } from "./bad-input.js";

const bench = new BadInputBench();
before(() => bench.start());
after(() => bench.stop());

it("2,000 generated inputs: exit 0 or 75, no stack trace, the canary never reaches the relay, the local copy holds the input", async () => {
  await bench.run(2000);
});
