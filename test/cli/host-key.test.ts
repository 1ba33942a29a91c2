/** The host signing key: generated once, exported, and every sealed message signed with it. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;

describe("host signing key", () => {
  const world = useWorld();

  it("keys host generate makes a 0600 v4 Ed25519 key once; export prints only its public part", () =>
    inHome(world, {}, async (home) => {
      const made = await home.run(["keys", "host", "generate"]);
      assert.equal(made.code, 0, made.stderr.toString());
      assert.match(
        made.stdout.toString(),
        /^generated [0-9A-F]{40} {2}sealpost on web01\.example\.org <sealpost@web01\.example\.org> \(Ed25519\)/,
      );
      assert.equal(statSync(join(home.root, "host-key.asc")).mode & 0o777, 0o600);
      const again = await home.run(["keys", "host", "generate"]);
      assert.equal(again.code, 1);
      assert.match(again.stderr.toString(), /already exists; it is never overwritten/);
      const exported = (await home.run(["keys", "host", "export"])).stdout.toString();
      assert.match(exported, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
      assert.ok(!exported.includes("PRIVATE"));
    }));

  it("with sign = true, GnuPG reports a good signature (VALIDSIG) by the host key after decrypting", () =>
    inHome(world, {}, async (home, relayed) => {
      assert.equal((await home.run(["keys", "host", "generate"])).code, 0);
      const pub = join(home.root, "host.pub.asc");
      writeFileSync(pub, (await home.run(["keys", "host", "export"])).stdout);
      const fpr = execFileSync("gpg", ["--show-keys", "--with-colons", pub])
        .toString()
        .match(/^fpr:+([0-9A-F]{40}):/m)![1]!;
      execFileSync("gpg", ["--homedir", world.gpg.home, "--batch", "--quiet", "--import", pub], { stdio: "ignore" });
      home.enableSigning();
      const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 0, r.stderr.toString());
      const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(relayed()[0]!.toString("latin1"))![0];
      const { status, ok } = world.gpg.decrypt(armored);
      assert.ok(ok);
      assert.match(status, new RegExp(`\\[GNUPG:\\] VALIDSIG ${fpr} `));
      assert.match(status, /\[GNUPG:\] GOODSIG /);
    }));

  it("with sign = true and no host key, deliver defers (75) with one line and sends nothing", () =>
    inHome(world, {}, async (home, relayed) => {
      home.enableSigning();
      const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 75);
      assert.match(r.stderr.toString(), /^4\.3\.5 sealpost: message\.host_key cannot be read/);
      assert.equal(relayed().length, 0);
    }));
});
