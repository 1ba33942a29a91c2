/** The keys commands as a user runs them: one line per key, clear refusals, no stack traces. */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { keyPair } from "../helpers/hostile-keys.js";
import { Home } from "../helpers/home.js";
import { TEST_FPR, TEST_PUBLIC_KEY, TEST_SECRET_KEY } from "../helpers/paths.js";

/** Bytes a terminal acts on: C0 controls but the line ends, DEL, C1 (in UTF-8), bidi overrides. */
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;

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
      home.cleanup();
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
      home.cleanup();
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
      home.cleanup();
    }
  });

  it("user ids are printed with control characters escaped: no escape sequence reaches the terminal, no row is forged", async () => {
    const home = new Home({ route: '[[route]]\nto = ["eve@example.net"]' });
    try {
      const forged = `${"0".repeat(40)}  usable    Boss <boss@example.net> (rsa4096, does not expire)`;
      const name = `Eve\x1b[2J\x1b[1;31m\u009b2K\u202e\n${forged}\n`;
      const { publicKey } = await keyPair([{ name, email: "eve@example.net" }]);
      const file = join(home.root, "eve.asc");
      writeFileSync(file, publicKey.armor());
      const fpr = publicKey.getFingerprint().toUpperCase();
      const escaped = "Eve\\x1b[2J\\x1b[1;31m\\x9b2K\\u202e\\n0000000000000000000000000000000000000000  usable    Boss <boss@example.net> (rsa4096, does not expire)\\n <eve@example.net>";
      let r = await home.run(["keys", "import", file]);
      assert.equal(r.code, 0, r.stderr.toString());
      for (const out of [r.stdout.toString(), (r = await home.run(["keys", "list"])).stdout.toString(), (await home.run(["keys", "check"])).stdout.toString()]) {
        assert.doesNotMatch(out, TERMINAL_CONTROLS);
        assert.doesNotMatch(out, /^0{40}/m, "no forged row");
      }
      assert.equal((await home.run(["keys", "import", file])).stdout.toString().split("\n")[0], `unchanged ${fpr}  ${escaped} (eddsaLegacy ed25519Legacy, does not expire)`);
      assert.deepEqual(r.stdout.toString().split("\n"), [`${fpr}  usable    ${escaped} (eddsaLegacy ed25519Legacy, does not expire)`, ""], "one row per key");
      const json = await home.run(["keys", "list", "--json"]);
      assert.doesNotMatch(json.stdout.toString(), TERMINAL_CONTROLS);
      const [row] = JSON.parse(json.stdout.toString()) as Array<{ userIds: string[] }>;
      assert.deepEqual(row!.userIds, [`${name} <eve@example.net>`], "--json keeps the exact text, escaped the JSON way");
    } finally {
      home.cleanup();
    }
  });
});
