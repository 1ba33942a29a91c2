/** Key expiry: keys check with an exit status, warnings at 30/7/1 days, inside the encryption and to root once. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateKey } from "openpgp";
import { expiryOf } from "../../src/crypto/key-expiry.js";
import { fixtures, pipeEnv } from "../helpers/fixtures.js";
import { useExtraKey } from "../helpers/extra-key.js";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const DAY = 86_400;

describe("key expiry", () => {
  const world = useWorld();
  const soon = useExtraKey("soon@example.net", 5 * DAY + 3600);

  it("thresholds: 30, 7 and 1 days before expiry", async () => {
    const { publicKey } = await generateKey({
      type: "ecc",
      curve: "curve25519Legacy",
      keyExpirationTime: 100 * DAY,
      userIDs: [{ email: "t@example.net" }],
      format: "object",
    });
    const at = (daysBefore: number) => new Date(publicKey.getCreationTime().getTime() + (100 - daysBefore) * DAY * 1000 + 1000);
    const seen = [];
    for (const before of [40, 31, 30, 10, 7, 3, 1, 0]) seen.push((await expiryOf(publicKey, at(before))).threshold);
    assert.deepEqual(seen, [null, null, 30, 30, 7, 7, 1, 1]);
  });

  it("keys check: exit 0 when every key lasts, 1 when one expires within 30 days, 2 when a route has none", () =>
    inHome(world, {}, async (home) => {
      let r = await home.run(["keys", "check"]);
      assert.equal(r.code, 0, r.stdout.toString());
      assert.match(
        r.stdout.toString(),
        /^route\[0\] ops@example\.net: 2D078DBC84053A03A90D58A525069B8229DDA237 expires 2036-01-01 \(in \d+ days\) — ok$/m,
      );
      assert.equal((await home.run(["keys", "import", soon.pub])).code, 0);
      home.writeConfig({ route: `[[route]]\nto = ["soon@example.net"]\n\n[[route]]\nto = ["ops@example.net"]` });
      r = await home.run(["keys", "check"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stdout.toString(),
        new RegExp(`^route\\[0\\] soon@example\\.net: ${soon.fpr} expires \\S+ \\(in 5 days\\) — WARNING: within 7 days$`, "m"),
      );
      home.writeConfig({ route: `[[route]]\nto = ["nobody@example.net"]` });
      r = await home.run(["keys", "check"]);
      assert.equal(r.code, 2);
      assert.match(
        r.stdout.toString(),
        /^route\[0\] nobody@example\.net: NO USABLE KEY — no usable key for nobody@example\.net; its mail waits in the spool$/m,
      );
    }));

  it("a key within 7 days: the sealed message carries a warning inside, root gets one notice per threshold", () =>
    inHome(world, {}, async (home, relayed) => {
      assert.equal((await home.run(["keys", "import", soon.pub])).code, 0);
      home.writeConfig({ route: `[[route]]\nto = ["soon@example.net"]` });
      for (const n of [1, 2]) {
        const r = await home.deliver(Buffer.from(`Subject: run ${n}\nFrom: root\n\nFail2Ban says hello\n`), pipeEnv(A01));
        assert.equal(r.code, 0, r.stderr.toString());
      }
      const opened = openSealed(relayed()[0]!, soon.gpg);
      assert.match(
        opened.innerHeader.replace(/\r\n[ \t]+/g, " "),
        new RegExp(`^X-Sealpost-Warning: key ${soon.fpr} expires on \\S+ \\(in 5 days\\);`, "m"),
      );
      assert.ok(!opened.outerHeader.includes("X-Sealpost-Warning"), "inside only");
      const notices = home
        .localCopies()
        .map((c) => String(c).replace(/\n[ \t]+/g, " "))
        .filter((c) => /^Subject: sealpost: key [0-9A-F]{40} expires in 5 days$/m.test(c));
      assert.equal(notices.length, 1, "once per threshold, not once per message");
      assert.ok(notices[0]!.includes(`sealpost keys import --replace ${soon.fpr} NEW.asc`));
    }));
});
