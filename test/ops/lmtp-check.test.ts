/** doctor's LMTP lines (ops/lmtp-check.ts): the socket answering, the MTA's route to it, a .forward in the way. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Config } from "../../src/config/schema.js";
import { lmtpFindings, type LmtpFacts } from "../../src/ops/lmtp-check.js";

const configWith = (lmtp: string | undefined) => ({ serve: { lmtp } }) as unknown as Config;
const quiet: LmtpFacts = { forward: () => Promise.resolve(undefined) };

describe("doctor on LMTP", () => {
  it("says nothing without [serve] lmtp", async () => {
    assert.deepEqual(await lmtpFindings(configWith(undefined), "sealpost", "web01.example.org", quiet), []);
  });

  it("a socket nothing listens on is an error with the fix; a listening LMTP server is ok", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sealpost-test-"));
    const socket = join(dir, "lmtp");
    try {
      const [down] = await lmtpFindings(configWith(socket), "sealpost", "web01.example.org", quiet);
      assert.equal(down!.level, "error");
      assert.match(down!.text, /nothing listens on .*lmtp .*ENOENT/);
      const server = createServer((c) => c.end("220 web01.example.org LMTP sealpost\r\n")).listen(socket);
      await new Promise((r) => server.once("listening", r));
      try {
        const [up] = await lmtpFindings(configWith(socket), "sealpost", "web01.example.org", quiet);
        assert.deepEqual(up, { level: "ok", area: "mta", text: `serve answers LMTP on ${socket}` });
      } finally {
        server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a .forward, a Postfix route elsewhere or chrooted, an Exim route elsewhere: each an error naming the fix", async () => {
    const socket = "/run/sealpost/lmtp";
    const facts = (over: Partial<LmtpFacts>): LmtpFacts => ({ ...quiet, ...over });
    const texts = async (f: LmtpFacts) =>
      (await lmtpFindings(configWith(socket), "sealpost", "web01.example.org", f)).slice(1).map((x) => `${x.level} ${x.text}`);
    assert.match(
      (await texts(facts({ forward: () => Promise.resolve('"|/usr/bin/sealpost deliver"\n') })))[0]!,
      /^error ~sealpost\/\.forward exists/,
    );
    assert.match(
      (await texts(facts({ postfix: () => ({ route: undefined }) })))[0]!,
      /^error Postfix does not hand sealpost's mail to \/run\/sealpost\/lmtp/,
    );
    assert.match(
      (await texts(facts({ postfix: () => ({ route: "sealpost-lmtp:unix:/run/sealpost/lmtp", chrooted: true }) })))[0]!,
      /^error Postfix's sealpost-lmtp service runs chrooted/,
    );
    assert.match(
      (await texts(facts({ postfix: () => ({ route: "sealpost-lmtp:unix:/run/sealpost/lmtp", chrooted: false }) })))[0]!,
      /^ok Postfix hands sealpost's mail to sealpost-lmtp:unix:\/run\/sealpost\/lmtp/,
    );
    assert.match(
      (await texts(facts({ exim: () => "local_delivery" })))[0]!,
      /^error Exim routes sealpost@web01\.example\.org to local_delivery/,
    );
    assert.match(
      (await texts(facts({ exim: () => "sealpost_lmtp" })))[0]!,
      /^ok Exim hands sealpost@web01\.example\.org to the sealpost_lmtp transport/,
    );
  });
});
