/**
 * How serve keeps a message arriving in DATA (src/serve/data-collector.ts): CRLF becomes LF
 * whatever the chunks (a CR may end one chunk and its LF start the next), a bare CR stays, and
 * all messages in DATA share one memory budget.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DataCollector, MemoryBudget } from "../../src/serve/data-collector.js";

function collect(chunks: Buffer[], budget = new MemoryBudget(1 << 30)): Buffer | "over-budget" {
  const collector = new DataCollector(budget);
  for (const chunk of chunks) collector.add(chunk);
  const got = collector.finish();
  collector.release();
  return got.kind === "message" ? got.bytes : "over-budget";
}

describe("serve's DATA collector", () => {
  it("turns every CRLF into LF and keeps every other byte, however the message is cut into chunks", () => {
    const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x41, 0x00, 0xff), { maxLength: 300 });
    const cuts = fc.array(fc.nat(300), { maxLength: 12 });
    fc.assert(
      fc.property(bytes, cuts, (content, at) => {
        const input = Buffer.from(content);
        const points = [...new Set(at.map((n) => n % (input.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points, input.length].slice(1).map((end, i, ends) => input.subarray(i === 0 ? 0 : ends[i - 1], end));
        const want = Buffer.from(input.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
        assert.deepEqual(collect(chunks), want);
      }),
      { numRuns: 2_000 },
    );
  });

  it("a CR that ends the message stays", () => {
    assert.deepEqual(collect([Buffer.from("a\r\nb\r")]), Buffer.from("a\nb\r"));
  });

  it("a message that would take the shared budget past its limit keeps nothing, and what a message held comes back on release", () => {
    const budget = new MemoryBudget(100);
    const first = new DataCollector(budget);
    first.add(Buffer.alloc(60, 0x41));
    assert.equal(collect([Buffer.alloc(30, 0x42)], budget).length, 30, "fits beside the first");
    assert.equal(collect([Buffer.alloc(30, 0x42), Buffer.alloc(20, 0x42)], budget), "over-budget");
    first.release();
    assert.equal(collect([Buffer.alloc(100, 0x43)], budget).length, 100, "the first message's share is free again");
  });
});
