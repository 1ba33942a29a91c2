import assert from "node:assert/strict";
import { it } from "node:test";
import { Home } from "../helpers/home.js";

it("sealpost demo seals a sample end to end and decrypts it, with no config and a bare environment", async () => {
  const home = new Home();
  try {
    const r = await home.run(["demo"], "", { SEALPOST_CONFIG: "/nonexistent" });
    assert.equal(r.code, 0, r.stderr.toString());
    const text = r.stdout.toString();
    assert.match(text, /into deliver, as Postfix would: spooled/);
    assert.match(text, /the original body, byte for byte/);
    assert.match(text, /plaintext visible to the relay: none/);
    assert.match(text, /Content-Type: multipart\/encrypted; protocol="application\/pgp-encrypted";/);
  } finally {
    await home.cleanup();
  }
});
