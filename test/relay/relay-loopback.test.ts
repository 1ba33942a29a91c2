/**
 * security = "none": the relay must be this machine, decided by what its name
 * resolves to, never by its spelling; and the connection goes to what was resolved.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { isLoopbackAddress } from "../../src/config/loopback.js";
import { SealpostError } from "../../src/core/errors.js";
import { probeRelay } from "../../src/relay/probe.js";
import { smtpOptions, type Resolve } from "../../src/relay/relay.js";
import { Sink } from "../helpers/sink.js";

describe("the relay's loopback rule", () => {
  let sink: Sink;
  before(async () => {
    sink = await new Sink().start();
  });
  after(() => sink.stop());

  const relay = (host: string) => ({ host, port: sink.port, security: "none" as const, timeoutSeconds: 5 });
  /** A resolver that answers `addresses` for every name and counts how often it was asked. */
  const resolver = (...addresses: string[]): Resolve & { calls: string[] } => {
    const calls: string[] = [];
    return Object.assign(
      (host: string) => {
        calls.push(host);
        return Promise.resolve(addresses.map((address) => ({ address })));
      },
      { calls },
    );
  };

  it("loopback addresses are 127.0.0.0/8 and ::1 in any spelling; nothing else is", () => {
    const table: Array<[string, boolean]> = [
      ["127.0.0.1", true],
      ["127.1.2.3", true],
      ["::1", true],
      ["[::1]", true],
      ["0:0:0:0:0:0:0:1", true],
      ["::ffff:127.0.0.1", true],
      ["::ffff:7f00:1", true],
      ["128.0.0.1", false],
      ["0.0.0.0", false],
      ["::", false],
      ["::2", false],
      ["::ffff:10.0.0.1", false],
      ["192.0.2.2", false],
      ["localhost", false],
      ["relay.localhost", false],
      ["127.0.0.1.example.net", false],
    ];
    assert.deepEqual(
      table.map(([a]) => [a, isLoopbackAddress(a)]),
      table,
    );
  });

  it("a name is not refused when the config loads (that stays synchronous); an address outside loopback is", () => {
    const dir = mkdtempSync(join(tmpdir(), "sealpost-loopback-"));
    try {
      const file = join(dir, "sealpost.toml");
      writeFileSync(file, '[relay]\nhost = "relay.localhost"\nsecurity = "none"\n[[route]]\nto = ["a@b.c"]\n');
      assert.equal(loadConfig(file).relay.host, "relay.localhost");
      writeFileSync(file, '[relay]\nhost = "192.0.2.2"\nsecurity = "none"\n[[route]]\nto = ["a@b.c"]\n');
      assert.throws(() => loadConfig(file), /relay\.security: .*loopback/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a *.localhost name that resolves to an address outside loopback is refused as a temporary config error, before any connection", async () => {
    const resolve = resolver("127.0.0.1", "192.0.2.2");
    const before = sink.mailFroms.length;
    await assert.rejects(
      probeRelay({ relay: relay("relay.localhost"), hostname: "web01.example.org", resolve }, ["ops@example.net"]),
      (e: SealpostError) =>
        e.status === "4.3.5" &&
        e.permanence === "temporary" &&
        e.publicMessage === 'relay.security = "none" is only for loopback relay hosts; relay.localhost is 192.0.2.2',
    );
    assert.equal(sink.mailFroms.length, before, "nothing reached even the loopback address it also has");
  });

  it("a name that resolves to loopback only is resolved once, and the relay is reached at that address, not by a second lookup", async () => {
    const resolve = resolver("127.0.0.1");
    const name = "relay.sealpost-test.invalid"; // a lookup of its own would find nothing
    assert.equal((await smtpOptions({ relay: relay(name), hostname: "web01.example.org", resolve })).host, "127.0.0.1");
    const before = sink.mailFroms.length;
    resolve.calls.length = 0;
    await probeRelay({ relay: relay(name), hostname: "web01.example.org", resolve }, ["ops@example.net"]);
    assert.deepEqual(resolve.calls, [name]);
    assert.equal(sink.mailFroms.length, before + 1, "the sink on 127.0.0.1 saw the MAIL FROM");
  });

  it("a name that cannot be resolved is a temporary relay error", async () => {
    const resolve: Resolve = () => Promise.reject(Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }));
    await assert.rejects(
      probeRelay({ relay: relay("nowhere.localhost"), hostname: "web01.example.org", resolve }, ["ops@example.net"]),
      (e: SealpostError) => e.status === "4.4.1" && /cannot be resolved/.test(e.publicMessage),
    );
  });
});
