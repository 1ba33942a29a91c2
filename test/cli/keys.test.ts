/** The keys commands as a user runs them: one line per key, clear refusals, no stack traces. */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { Home } from "../helpers/home.js";
import { TEST_FPR, TEST_PUBLIC_KEY, TEST_SECRET_KEY } from "../helpers/paths.js";

describe("keys commands", () => {
  it("import, list, list --json, remove", async () => {
    const home = new Home();
    try {
      let r = await home.run(["keys", "import", TEST_PUBLIC_KEY]);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(r.stdout.toString(), new RegExp(`^imported  ${TEST_FPR}  .*ops@example\\.net.*\\(eddsa.*expires 2036-01-01\\)\\n`));
      assert.match(r.stdout.toString(), /^ {10}user id  Sealpost Test Recipient A .*<ops@example\.net>$/m);
      assert.match(r.stdout.toString(), /^ {10}primary  eddsaLegacy ed25519Legacy, created 2026-11-21, expires 2036-01-01$/m);
      assert.match(r.stdout.toString(), /^ {10}subkey   [0-9A-F]{16} ecdh curve25519Legacy \[encrypt\] expires 2036-01-01$/m);
      assert.match(r.stdout.toString(), /^ {10}test encryption ok \(PKESK v3 \+ SEIPD v1\)\n$/m);
      r = await home.run(["keys", "import", "-"], readFileSync(TEST_PUBLIC_KEY));
      assert.match(r.stdout.toString(), /^unchanged /);
      r = await home.run(["keys", "list"]);
      assert.match(r.stdout.toString(), new RegExp(`^${TEST_FPR}  usable  `));
      r = await home.run(["keys", "list", "--json"]);
      const [row] = JSON.parse(r.stdout.toString()) as Array<Record<string, unknown>>;
      assert.equal(row!.fingerprint, TEST_FPR);
      assert.equal(row!.canEncrypt, true);
      assert.match(String(row!.expires), /^2036-01-01T\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(Array.isArray(row!.userIds));
      r = await home.run(["keys", "remove", TEST_FPR.toLowerCase().replace(/(.{4})/g, "$1 ")]);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal((await home.run(["keys", "list", "--json"])).stdout.toString().trim(), "[]");
    } finally {
      await home.cleanup();
    }
  });

  it("refuses a secret key, garbage and a missing file with one line each", async () => {
    const home = new Home();
    try {
      let r = await home.run(["keys", "import", TEST_SECRET_KEY]);
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), /^sealpost keys import: .*: this is a secret \(private\) key; sealpost stores public keys only, nothing was stored/);
      assert.deepEqual(readdirSync(home.root).includes("keys") ? readdirSync(home.keys) : [], []);
      r = await home.run(["keys", "import", "-"], "this is not a key\n");
      assert.equal(r.code, 1);
      assert.equal(r.stderr.toString().split("\n").length, 2, "one line");
      assert.match(r.stderr.toString(), /^sealpost keys import: stdin: not an OpenPGP public key/);
      r = await home.run(["keys", "import", "/nonexistent.asc"]);
      assert.equal(r.stderr.toString(), "sealpost keys import: /nonexistent.asc: no such file\n");
      r = await home.run(["keys", "remove", TEST_FPR]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.toString(), `sealpost keys remove: no stored key ${TEST_FPR}\n`);
    } finally {
      await home.cleanup();
    }
  });

  it("--help and --version answer on stdout with exit 0", async () => {
    const home = new Home();
    try {
      const help = await home.run(["--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout.toString(), /Examples:/);
      const deliverHelp = await home.run(["deliver", "--help"]);
      assert.equal(deliverHelp.code, 0);
      assert.match(deliverHelp.stdout.toString(), /never anything else/);
      const version = await home.run(["--version"]);
      assert.match(version.stdout.toString(), /^\d+\.\d+\.\d+\n$/);
    } finally {
      await home.cleanup();
    }
  });
});
