/** [[route]] also_encrypt_to: every message of the route is sealed to the archive key too. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { useExtraKey } from "../helpers/extra-key.js";
import { RCPT } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;

describe("archive key (also_encrypt_to)", () => {
  const world = useWorld();
  const archive = useExtraKey("archive@example.net");

  it("a route's messages decrypt with the recipient's key and with the archive key", () =>
    inHome(world, {}, async (home, relayed) => {
      home.writeConfig({ route: `[[route]]\nto = ["${RCPT}"]\nalso_encrypt_to = ["${archive.fpr}"]` });
      assert.equal((await home.run(["keys", "import", archive.pub])).code, 0);
      const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 0, r.stderr.toString());
      const [sealed] = relayed();
      const opened = openSealed(sealed!, world.gpg);
      assert.equal(opened.packets.match(/:pubkey enc packet:/g)?.length, 2, "two PKESKs: recipient and archive");
      openSealed(sealed!, archive.gpg);
    }));

  it("a missing archive key defers (75): no message goes out without it", () =>
    inHome(world, {}, async (home, relayed) => {
      home.writeConfig({ route: `[[route]]\nto = ["${RCPT}"]\nalso_encrypt_to = ["${archive.fpr}"]` });
      const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 75);
      assert.equal(r.stderr.toString(), `4.7.1 sealpost: no usable key: archive key ${archive.fpr} is not in keys_dir\n`);
      assert.equal(relayed().length, 0);
    }));
});
