/**
 * keys fetch: Web Key Directory over HTTPS with certificate verification, against
 * loopback servers with a test CA — never the internet. SEALPOST_TEST_WKD_CONNECT tells sealpost
 * where each host name is; certificates are still checked against those names.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { after, before, describe, it } from "node:test";
import { readKey } from "openpgp";
import { wkdUrls } from "../../src/crypto/wkd.js";
import { inHome, useWorld } from "../helpers/world.js";
import { TEST_FPR, TEST_PUBLIC_KEY } from "../helpers/paths.js";
import { TestCa } from "../helpers/test-ca.js";
import type { Home } from "../helpers/home.js";

const ADDRESS = "ops@example.net";

describe("keys fetch (WKD)", () => {
  const world = useWorld();
  let ca: TestCa;
  let binaryKey: Buffer;
  const servers: Record<string, { server: Server; port: number }> = {};
  let serveKey: Buffer | undefined;
  /** When set, the server answers this way instead: one byte every 10 s, or more than the size cap at once. */
  let misbehave: "drip" | "huge" | undefined;
  const drips = new Set<NodeJS.Timeout>();

  /** An HTTPS server for `names` answering the WKD path of ADDRESS with `serveKey` (404 when unset). */
  async function wkdServer(label: string, san: string): Promise<void> {
    const { key, cert } = ca.issue(label, san);
    const { advanced, direct } = wkdUrls(ADDRESS);
    const server = createServer({ key, cert }, (req, res) => {
      const known = [advanced.pathname + advanced.search, direct.pathname + direct.search].includes(req.url ?? "");
      if (misbehave === "huge") return void res.writeHead(200).end(Buffer.alloc(600 * 1024, 0x99));
      if (misbehave === "drip") {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.write(binaryKey.subarray(0, 1));
        let sent = 1;
        const drip = setInterval(() => res.write(binaryKey.subarray(sent, ++sent)), 10_000); // never idle for the 15 s timeout
        drips.add(drip);
        res.on("close", () => {
          clearInterval(drip);
          drips.delete(drip);
        });
        return;
      }
      if (!known || !serveKey) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(serveKey);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    servers[label] = { server, port: (server.address() as { port: number }).port };
  }

  before(async () => {
    ca = new TestCa();
    binaryKey = Buffer.from((await readKey({ armoredKey: readFileSync(TEST_PUBLIC_KEY, "utf8") })).write());
    await wkdServer("good", "DNS:openpgpkey.example.net,DNS:example.net");
    await wkdServer("wrong", "DNS:www.elsewhere.example");
  });
  after(async () => {
    for (const drip of drips) clearInterval(drip);
    for (const { server } of Object.values(servers)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    ca.cleanup();
  });

  const fetch = (home: Home, connect: string, ...args: string[]) =>
    home.run(["keys", "fetch", ADDRESS, ...args], "", { SEALPOST_TEST_WKD_CONNECT: connect, NODE_EXTRA_CA_CERTS: ca.caFile });
  const at = (label: string) => `127.0.0.1:${servers[label]!.port}`;
  const stored = (home: Home) =>
    readdirSync(home.keys, { withFileTypes: true })
      .filter((d) => d.name.endsWith(".asc"))
      .map((d) => d.name);

  it("the advanced method: fetched over verified HTTPS, checked, stored and shown with its fingerprint to pin", () =>
    inHome(world, {}, async (home) => {
      serveKey = binaryKey;
      assert.equal((await home.run(["keys", "remove", TEST_FPR])).code, 0);
      assert.deepEqual(stored(home), []);
      const r = await fetch(home, `openpgpkey.example.net=${at("good")},example.net=${at("good")}`, "--expect-fingerprint", TEST_FPR);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(
        r.stdout.toString(),
        /^fetched {3}https:\/\/openpgpkey\.example\.net\/\.well-known\/openpgpkey\/example\.net\/hu\/[a-z0-9]{32}\?l=ops\n/,
      );
      assert.match(r.stdout.toString(), new RegExp(`^imported  ${TEST_FPR} `, "m"));
      assert.match(
        r.stdout.toString(),
        new RegExp(`^pin it {4}\\[\\[route\\]\\] to = \\["ops@example\\.net"\\]  keys = \\["${TEST_FPR}"\\]$`, "m"),
      );
      assert.deepEqual(stored(home), [`${TEST_FPR}.asc`]);
    }));

  it("the direct method, when the openpgpkey host does not exist", () =>
    inHome(world, {}, async (home) => {
      serveKey = binaryKey;
      const r = await fetch(home, `example.net=${at("good")}`);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(r.stdout.toString(), /^fetched {3}https:\/\/example\.net\/\.well-known\/openpgpkey\/hu\//);
    }));

  it("a certificate for another name is refused, and nothing is stored", () =>
    inHome(world, {}, async (home) => {
      serveKey = binaryKey;
      const before = stored(home);
      const r = await fetch(home, `openpgpkey.example.net=${at("wrong")}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), /^sealpost keys fetch: openpgpkey\.example\.net: .*(altnames|certificate|Hostname)/i);
      assert.deepEqual(stored(home), before);
    }));

  it("--expect-fingerprint refuses another key; a key without a user id for the address is refused; 404 says so", () =>
    inHome(world, {}, async (home) => {
      serveKey = binaryKey;
      let r = await fetch(home, `openpgpkey.example.net=${at("good")}`, "--expect-fingerprint", "0".repeat(40));
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), new RegExp(`${TEST_FPR}: is not the expected key 0{40}`));
      const other = await (
        await import("openpgp")
      ).generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ email: "someone@else.example" }], format: "binary" });
      serveKey = Buffer.from(other.publicKey);
      r = await fetch(home, `openpgpkey.example.net=${at("good")}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), /has no user id for ops@example\.net; nothing of it was stored/);
      serveKey = undefined;
      r = await fetch(home, `openpgpkey.example.net=${at("good")}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), /HTTP 404/);
    }));

  it("a server that drips one byte every 10 s is cut off by the fetch's deadline, and nothing is stored", () =>
    inHome(world, {}, async (home) => {
      misbehave = "drip";
      try {
        assert.equal((await home.run(["keys", "remove", TEST_FPR])).code, 0);
        const started = Date.now();
        const { child, done } = home.start(["keys", "fetch", ADDRESS], "", {
          SEALPOST_TEST_WKD_CONNECT: `openpgpkey.example.net=${at("good")}`,
          NODE_EXTRA_CA_CERTS: ca.caFile,
        });
        const guard = setTimeout(() => child.kill("SIGKILL"), 60_000); // the old fetch never ended
        const r = await done;
        clearTimeout(guard);
        const seconds = (Date.now() - started) / 1000;
        assert.equal(r.code, 1, `ended after ${seconds} s by ${r.code === null ? "the test's kill" : `exit ${r.code}`}`);
        assert.equal(r.stderr.toString(), "sealpost keys fetch: openpgpkey.example.net: no complete answer within 20 s\n");
        assert.ok(seconds >= 19 && seconds < 40, `ended after ${seconds} s`);
        assert.deepEqual(stored(home), []);
      } finally {
        misbehave = undefined;
      }
    }));

  it("an answer over the size cap (512 KB) is refused, and nothing is stored", () =>
    inHome(world, {}, async (home) => {
      misbehave = "huge";
      try {
        assert.equal((await home.run(["keys", "remove", TEST_FPR])).code, 0);
        const r = await fetch(home, `openpgpkey.example.net=${at("good")}`);
        assert.equal(r.code, 1);
        assert.equal(r.stderr.toString(), "sealpost keys fetch: openpgpkey.example.net: answer larger than 524288 bytes\n");
        assert.deepEqual(stored(home), []);
      } finally {
        misbehave = undefined;
      }
    }));
});
