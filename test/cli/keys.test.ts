/** The keys commands as a user runs them: one line per key, clear refusals, no stack traces. */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { gpgRevocations, keyPair } from "../helpers/hostile-keys.js";
import { Home } from "../helpers/home.js";
import { TEST_FPR, TEST_PUBLIC_KEY, TEST_SECRET_KEY } from "../helpers/paths.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;

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
      assert.match(r.stdout.toString(), /^ {10}user id {2}Sealpost Test Recipient A .*<ops@example\.net>$/m);
      assert.match(r.stdout.toString(), /^ {10}primary {2}eddsaLegacy ed25519Legacy, created 2026-11-21, expires 2036-01-01$/m);
      assert.match(r.stdout.toString(), /^ {10}subkey {3}[0-9A-F]{16} ecdh curve25519Legacy \[encrypt\] expires 2036-01-01$/m);
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
      assert.match(
        r.stderr.toString(),
        /^sealpost keys import: .*: this is a secret \(private\) key; sealpost stores public keys only, nothing was stored/,
      );
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

  it("user ids are printed with control characters escaped: no escape sequence reaches the terminal, no row is forged", async () => {
    const home = new Home({ route: '[[route]]\nto = ["eve@example.net"]' });
    try {
      const forged = `${"0".repeat(40)}  usable    Boss <boss@example.net> (rsa4096, does not expire)`;
      const name = `Eve\x1b[2J\x1b[1;31m\u009b2K\u202e\n${forged}\n`;
      const { publicKey } = await keyPair([{ name, email: "eve@example.net" }]);
      const file = join(home.root, "eve.asc");
      writeFileSync(file, publicKey.armor());
      const fpr = publicKey.getFingerprint().toUpperCase();
      const escaped =
        "Eve\\x1b[2J\\x1b[1;31m\\x9b2K\\u202e\\n0000000000000000000000000000000000000000  usable    Boss <boss@example.net> (rsa4096, does not expire)\\n <eve@example.net>";
      let r = await home.run(["keys", "import", file]);
      assert.equal(r.code, 0, r.stderr.toString());
      for (const out of [
        r.stdout.toString(),
        (r = await home.run(["keys", "list"])).stdout.toString(),
        (await home.run(["keys", "check"])).stdout.toString(),
      ]) {
        assert.doesNotMatch(out, TERMINAL_CONTROLS);
        assert.doesNotMatch(out, /^0{40}/m, "no forged row");
      }
      assert.equal(
        (await home.run(["keys", "import", file])).stdout.toString().split("\n")[0],
        `unchanged ${fpr}  ${escaped} (eddsaLegacy ed25519Legacy, does not expire)`,
      );
      assert.deepEqual(
        r.stdout.toString().split("\n"),
        [`${fpr}  usable    ${escaped} (eddsaLegacy ed25519Legacy, does not expire)`, ""],
        "one row per key",
      );
      const json = await home.run(["keys", "list", "--json"]);
      assert.doesNotMatch(json.stdout.toString(), TERMINAL_CONTROLS);
      const [row] = JSON.parse(json.stdout.toString()) as Array<{ userIds: string[] }>;
      assert.deepEqual(row!.userIds, [`${name} <eve@example.net>`], "--json keeps the exact text, escaped the JSON way");
    } finally {
      await home.cleanup();
    }
  });

  it("importing a gpg revocation (gen-revoke) revokes the stored key: reported, root told once, deliver defers 4.7.1 … is revoked", async () => {
    const home = new Home({ route: '[[route]]\nto = ["rev@example.net"]' });
    try {
      const gpg = gpgRevocations("rev@example.net", "laptop stolen");
      writeFileSync(join(home.root, "rev.pub.asc"), gpg.pub);
      writeFileSync(join(home.root, "rev.revoke.asc"), gpg.genRevoke);
      assert.equal((await home.run(["keys", "import", join(home.root, "rev.pub.asc")])).code, 0);
      assert.equal((await home.run(["keys", "check"])).code, 0, "usable before");
      let r = await home.run(["keys", "import", join(home.root, "rev.revoke.asc")]);
      assert.equal(r.code, 0, r.stderr.toString());
      const out = r.stdout.toString();
      assert.match(
        out,
        new RegExp(
          `^revoked   ${gpg.fpr}  TEST-ONLY <rev@example\\.net> \\(eddsaLegacy ed25519Legacy, does not expire\\) — is revoked$`,
          "m",
        ),
      );
      assert.match(out, /^ {10}reason {3}compromised: laptop stolen$/m);
      assert.match(
        out,
        new RegExp(
          `^warning   route\\[0\\] rev@example\\.net: no usable key left, its mail waits; get the new key: sealpost keys import --replace ${gpg.fpr} NEW\\.asc$`,
          "m",
        ),
      );
      const notices = home.localCopies().map((m) => m.toString());
      assert.equal(notices.length, 1);
      assert.match(notices[0]!, new RegExp(`^Subject: sealpost: key ${gpg.fpr} was revoked\r?$`, "m"));
      assert.match(notices[0]!, /^From: sealpost <sealpost@web01\.example\.org>\r?$/m);
      assert.match(notices[0]!, /revoked by its owner: revoked \(compromised: laptop stolen\)/);
      assert.match(notices[0]!, /^ {2}route\[0\] rev@example\.net: no usable key is left; its mail waits/m);

      r = await home.run(["keys", "import", join(home.root, "rev.revoke.asc")]);
      assert.match(r.stdout.toString(), new RegExp(`^unchanged ${gpg.fpr} `));
      assert.equal(home.localCopies().length, 1, "one notice, from the import that took the revocation");

      r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 75);
      assert.equal(r.stderr.toString(), `4.7.1 sealpost: no usable key for rev@example.net: ${gpg.fpr} is revoked\n`);
      assert.equal(home.localCopies().length, 1, "nothing stored: the MTA keeps the message");
      r = await home.run(["keys", "check"]);
      assert.equal(r.code, 2);
      assert.match(
        r.stdout.toString(),
        new RegExp(
          `^route\\[0\\] rev@example\\.net: NO USABLE KEY — no usable key for rev@example\\.net: ${gpg.fpr} is revoked; its mail waits in the spool$`,
          "m",
        ),
      );
      assert.match(
        (await home.run(["keys", "list"])).stdout.toString(),
        new RegExp(`^${gpg.fpr}  UNUSABLE  TEST-ONLY <rev@example\\.net> .* — is revoked$`, "m"),
      );
    } finally {
      await home.cleanup();
    }
  });

  it("gpg's stored revocation certificate is refused while it keeps gpg's ':' guard, taken once it is removed; gpg's revoked copy is taken too", async () => {
    const gpg = gpgRevocations("rev@example.net", "retired");
    for (const [name, text] of [
      ["guard removed", gpg.stored.replace(":-----BEGIN", "-----BEGIN")],
      ["revoked copy", gpg.revokedCopy],
    ] as const) {
      const home = new Home({ route: '[[route]]\nto = ["rev@example.net"]' });
      try {
        writeFileSync(join(home.root, "pub.asc"), gpg.pub);
        writeFileSync(join(home.root, "guarded.rev"), gpg.stored);
        writeFileSync(join(home.root, "revocation.asc"), text);
        assert.equal((await home.run(["keys", "import", join(home.root, "pub.asc")])).code, 0);
        let r = await home.run(["keys", "import", join(home.root, "guarded.rev")]);
        assert.equal(r.code, 1);
        assert.match(
          r.stderr.toString(),
          /^sealpost keys import: .*guarded\.rev: gpg guards this revocation certificate with a ":" before -----BEGIN; remove that colon/,
        );
        assert.equal((await home.run(["keys", "check"])).code, 0, "the guarded certificate changed nothing");
        r = await home.run(["keys", "import", join(home.root, "revocation.asc")]);
        assert.equal(r.code, 0, `${name}: ${r.stderr.toString()}`);
        assert.match(r.stdout.toString(), new RegExp(`^revoked   ${gpg.fpr} `), name);
        assert.equal((await home.run(["keys", "check"])).code, 2, name);
      } finally {
        await home.cleanup();
      }
    }
  });
});
