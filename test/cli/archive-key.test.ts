/** [[route]] also_encrypt_to (issue 5): every message of the route is sealed to the archive key too. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKey } from "openpgp";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Gpg } from "../helpers/gpg.js";
import { RCPT } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;

describe("archive key (also_encrypt_to)", () => {
  const world = useWorld();
  let dir: string;
  let archive: { fpr: string; pub: string; gpg: Gpg };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-archive-"));
    const { privateKey, publicKey } = await generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ name: "TEST-ONLY archive", email: "archive@example.net" }], format: "object" });
    writeFileSync(join(dir, "archive.sec.asc"), privateKey.armor());
    writeFileSync(join(dir, "archive.pub.asc"), publicKey.armor());
    archive = { fpr: publicKey.getFingerprint().toUpperCase(), pub: join(dir, "archive.pub.asc"), gpg: new Gpg(join(dir, "archive.sec.asc")) };
  });
  after(() => {
    archive.gpg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a route's messages decrypt with the recipient's key and with the archive key", () =>
    inHome(world, {}, async (home, relayed) => {
      home.writeConfig({ route: `[[route]]\nto = ["${RCPT}"]\nalso_encrypt_to = ["${archive.fpr}"]` });
      assert.equal((await home.run(["keys", "import", archive.pub])).code, 0);
      const r = await home.run(["deliver"], fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 0, r.stderr.toString());
      const [sealed] = relayed();
      const opened = openSealed(sealed!, world.gpg);
      assert.equal(opened.packets.match(/:pubkey enc packet:/g)?.length, 2, "two PKESKs: recipient and archive");
      openSealed(sealed!, archive.gpg);
    }));

  it("a missing archive key defers (75): no message goes out without it", () => inHome(world, {}, async (home, relayed) => {
    home.writeConfig({ route: `[[route]]\nto = ["${RCPT}"]\nalso_encrypt_to = ["${archive.fpr}"]` });
    const r = await home.run(["deliver"], fixtureBytes(A01), pipeEnv(A01));
    assert.equal(r.code, 75);
    assert.equal(r.stderr.toString(), `4.7.1 sealpost: no usable key: archive key ${archive.fpr} is not in keys_dir\n`);
    assert.equal(relayed().length, 0);
  }));
});
