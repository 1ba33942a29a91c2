/** sealpost test: one sealed test message through the whole path, its id printed. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

describe("sealpost test", () => {
  const world = useWorld();

  it("stores a local copy, seals to root's route, relays, and prints the id and the relay's reply", () =>
    inHome(world, {}, async (home, relayed) => {
      const r = await home.run(["test"]);
      assert.equal(r.code, 0, r.stderr.toString());
      const m = /^sent (<test\.\d+\.[0-9a-f]+@web01\.example\.org>) to ops@example\.net: 250 .*\n$/.exec(r.stdout.toString());
      assert.ok(m, r.stdout.toString());
      const opened = openSealed(relayed()[0]!, world.gpg);
      assert.deepEqual(opened.outerFields.get("message-id"), [m[1]]);
      assert.ok(opened.inner.includes("If you can read it, the whole path works"));
      assert.equal(home.localCopies().length, 1);
    }));

  it("--to an address without a key fails with one line and sends nothing", () =>
    inHome(world, {}, async (home, relayed) => {
      const r = await home.run(["test", "--to", "stranger@example.org"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.toString(), "sealpost test: no usable key for stranger@example.org\n");
      assert.equal(relayed().length, 0);
    }));
});
