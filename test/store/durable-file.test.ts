/** Group commit of directory syncs (store/durable-file.ts fsyncDir). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fsyncDir } from "../../src/store/durable-file.js";

describe("fsyncDir", () => {
  it("a caller that comes while a sync runs waits for the next one, which all such callers share; the first returns with its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sealpost-test-"));
    try {
      const order: string[] = [];
      const first = fsyncDir(dir).then(() => order.push("first"));
      // These come after the first began: its sync may not cover their renames.
      const second = fsyncDir(dir);
      const third = fsyncDir(dir);
      assert.equal(second, third, "one sync for everyone who came meanwhile");
      const later = second.then(() => order.push("second"));
      await Promise.all([first, later]);
      assert.deepEqual(order, ["first", "second"]);
      // Nothing is under way now: a new caller starts a sync of its own at once.
      const alone = fsyncDir(dir);
      assert.notEqual(alone, second);
      await alone;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a directory that cannot be opened fails each caller of that sync, and the next sync starts afresh", async () => {
    const missing = join(tmpdir(), `sealpost-test-no-such-dir-${process.pid}`);
    await assert.rejects(fsyncDir(missing), /ENOENT/);
    const a = fsyncDir(missing);
    const b = fsyncDir(missing);
    await assert.rejects(a, /ENOENT/);
    await assert.rejects(b, /ENOENT/);
  });
});
