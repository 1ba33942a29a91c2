/**
 * The relay fault matrix: every way a relay fails, with deliver's exit status and the
 * spool state it leaves. Temporary trouble: exit 75, nothing spooled (the MTA keeps the
 * message). A refusal of the message (5xx to MAIL, RCPT or DATA): exit 0, held, notice to root.
 * The local copy is kept in every case, and no byte goes out unsealed.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home, isTempfailLine } from "../helpers/home.js";
import { RawRelay, dropInData } from "../helpers/raw-relay.js";
import { openSealed } from "../helpers/sealed.js";
import { Sink, type SinkOptions } from "../helpers/sink.js";
import { TestCa } from "../helpers/test-ca.js";
import { useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const TWO_RECIPIENTS = `[[route]]\nto = ["ops@example.net", "gone@example.net"]\nkeys = ["2D078DBC84053A03A90D58A525069B8229DDA237"]`;
/** The MTA-retry semantics: deliver relays before it answers (with the default "queued", the runner meets these faults). */
const INLINE = '[deliver]\nrelay = "inline"\n';
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);

interface Result {
  code: number | null;
  stderr: string;
  spool: Array<{ state: string; lastError: string; recipients: string[] }>;
  copies: string[];
}

describe("relay faults", () => {
  const world = useWorld();
  let ca: TestCa;
  const certs: Record<string, { key: Buffer; cert: Buffer }> = {};
  before(() => {
    // A test CA, a certificate for 127.0.0.1 and one for another name, both signed by it.
    ca = new TestCa();
    certs.right = ca.issue("right", "IP:127.0.0.1");
    certs.wrong = ca.issue("wrong", "DNS:smtp.elsewhere.example");
  });
  after(() => ca.cleanup());

  /** deliver once against a relay on `port`, with relay.security and relay.timeout as given. */
  async function deliverTo(port: number, security = "none", timeout = "10s", env: Record<string, string> = {}): Promise<Result> {
    const home = new Home({ relayPort: port, extra: INLINE });
    try {
      await home.importTestKey();
      writeFileSync(
        home.config,
        readFileSync(home.config, "utf8")
          .replace('security = "none"', `security = "${security}"`)
          .replace('timeout = "10s"', `timeout = "${timeout}"`),
      );
      const r = await home.deliver(RAW, { ...ENV, ...env });
      const spool = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Result["spool"];
      return { code: r.code, stderr: r.stderr.toString(), spool, copies: home.localCopies().map(String) };
    } finally {
      await home.cleanup();
    }
  }

  function assertDeferred(r: Result, reason: RegExp): void {
    assert.equal(r.code, 75);
    assert.ok(isTempfailLine(Buffer.from(r.stderr)), r.stderr);
    assert.match(r.stderr, reason);
    assert.deepEqual(r.spool, [], "nothing spooled: the MTA keeps the message");
    assert.equal(r.copies.length, 1, "the local copy is kept");
  }

  function assertHeld(r: Result, code: number): void {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.deepEqual(
      r.spool.map((e) => e.state),
      ["held"],
    );
    assert.match(r.spool[0]!.lastError, new RegExp(`answered: ${code} `));
    assert.equal(r.copies.length, 2, "the message and the notice");
    assert.ok(r.copies.some((c) => /^Subject: sealpost: message held, the relay refused it/m.test(c)));
  }

  async function withRelaySink<T>(options: SinkOptions, fn: (sink: Sink) => Promise<T>): Promise<T> {
    const sink = await new Sink("accept", options).start();
    try {
      return await fn(sink);
    } finally {
      await sink.stop();
    }
  }

  it("connection refused: exit 75, nothing spooled", async () => {
    assertDeferred(await deliverTo(1), /^4\.4\.1 sealpost: relay 127\.0\.0\.1:1 cannot connect\n$/);
  });

  it("a relay that accepts TCP and never answers: exit 75 after relay.timeout, nothing spooled", async () => {
    const silent = await new RawRelay(null).start();
    try {
      const started = Date.now();
      const r = await deliverTo(silent.port, "none", "1s");
      assertDeferred(r, /timed out/);
      assert.ok(Date.now() - started < 8000, "gives up after the configured timeout");
    } finally {
      await silent.stop();
    }
  });

  it("TLS handshake failure (implicit TLS against a plain SMTP port): exit 75, nothing sent", () =>
    withRelaySink({}, async (sink) => {
      assertDeferred(await deliverTo(sink.port, "tls", "5s"), /TLS failed/);
      assert.equal(sink.messages.length, 0);
    }));

  it("certificate name mismatch (valid chain, wrong name): exit 75, nothing sent", () =>
    withRelaySink({ tls: certs.wrong! }, async (sink) => {
      const r = await deliverTo(sink.port, "starttls", "5s", { NODE_EXTRA_CA_CERTS: ca.caFile });
      assertDeferred(r, /TLS failed/);
      assert.equal(sink.messages.length, 0);
    }));

  it("the same CA with the right name is accepted (the control for the mismatch case)", () =>
    withRelaySink({ tls: certs.right! }, async (sink) => {
      const r = await deliverTo(sink.port, "starttls", "5s", { NODE_EXTRA_CA_CERTS: ca.caFile });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sink.messages.length, 1);
      openSealed(sink.messages[0]!.raw, world.gpg);
    }));

  it("AUTH refused (535): exit 75, nothing spooled", () =>
    withRelaySink({ auth: { user: "alerts@example.net", pass: "right" } }, async (sink) => {
      const home = new Home({ relayPort: sink.port });
      try {
        await home.importTestKey();
        writeFileSync(join(home.root, "relay.pass"), "s3cret-but-wrong", { mode: 0o600 });
        home.writeConfig({ extra: `user = "alerts@example.net"\npassword_file = "${join(home.root, "relay.pass")}"\n${INLINE}` });
        const r = await home.deliver(RAW, ENV);
        const spool = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Result["spool"];
        assertDeferred({ code: r.code, stderr: r.stderr.toString(), spool, copies: home.localCopies().map(String) }, /refused the login/);
        assert.ok(!r.stderr.toString().includes("s3cret"), "the password never shows");
      } finally {
        await home.cleanup();
      }
    }));

  it("421 at the greeting: exit 75, nothing spooled", async () => {
    const busy = await new RawRelay("421 relay.test too busy, closing").start();
    try {
      assertDeferred(await deliverTo(busy.port), /421/);
    } finally {
      await busy.stop();
    }
  });

  for (const stage of ["mail", "rcpt", "data"] as const) {
    for (const code of [451, 452, 552, 554]) {
      // RFC 5321 4.5.3.1.10: a 552 to RCPT means "too many recipients" and is to be treated as 452.
      const temporary = code < 500 || (stage === "rcpt" && code === 552);
      it(`${code} at ${stage.toUpperCase()}: ${temporary ? "exit 75, nothing spooled" : "exit 0, held, notice to root"}`, () =>
        withRelaySink({}, async (sink) => {
          sink.failAt = { stage, code };
          const r = await deliverTo(sink.port);
          if (temporary) assertDeferred(r, new RegExp(`^4\\.4\\.1 sealpost: relay 127\\.0\\.0\\.1:\\d+ answered: ${code} `));
          else assertHeld(r, code);
          assert.equal(sink.messages.length, 0);
        }));
    }
  }

  it("the connection dropped in the middle of DATA: exit 75, nothing spooled", async () => {
    const relay = await dropInData().start();
    try {
      assertDeferred(await deliverTo(relay.port), /sealpost: relay 127\.0\.0\.1:\d+ /);
    } finally {
      await relay.stop();
    }
  });

  it("one of two recipients refused (550): exit 0, one relayed, the other held", () =>
    withRelaySink({ refuse: ["gone@example.net"] }, async (sink) => {
      const home = new Home({ relayPort: sink.port, extra: INLINE, route: TWO_RECIPIENTS });
      try {
        await home.importTestKey();
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.deepEqual(
          sink.messages.map((m) => m.to),
          [["ops@example.net"]],
        );
        const spool = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Result["spool"];
        assert.deepEqual(
          spool.map((e) => [e.state, e.recipients]),
          [["held", ["gone@example.net"]]],
        );
      } finally {
        await home.cleanup();
      }
    }));

  describe("the same faults met by the runner (relay = queued, the default)", () => {
    /** deliver answers 0 at once; then what the runner made of it. */
    async function queuedTo(port: number, route?: string): Promise<Result & { home: Home }> {
      const home = new Home({ relayPort: port, ...(route ? { route } : {}) });
      await home.importTestKey();
      const r = await home.deliver(RAW, ENV);
      const spool = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Result["spool"];
      return { home, code: r.code, stderr: r.stderr.toString(), spool, copies: home.localCopies().map(String) };
    }

    it("relay down: exit 0, the entry backs off with its attempt and error", async () => {
      const r = await queuedTo(1);
      try {
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(
          r.spool.map((e) => e.state),
          ["queued"],
        );
        assert.match(r.spool[0]!.lastError, /cannot connect/);
        assert.equal((r.spool[0] as unknown as { attempts: number }).attempts, 1);
        assert.equal(r.copies.length, 1);
      } finally {
        await r.home.cleanup();
      }
    });

    it("554 at DATA: exit 0, held by the runner with a notice to root", () =>
      withRelaySink({}, async (sink) => {
        sink.failAt = { stage: "data", code: 554 };
        const r = await queuedTo(sink.port);
        try {
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(
            r.spool.map((e) => e.state),
            ["held"],
          );
          assert.ok(
            r.home
              .localCopies()
              .map(String)
              .some((c) => /^Subject: sealpost: message held/m.test(c)),
          );
        } finally {
          await r.home.cleanup();
        }
      }));

    it("one of two recipients refused (550): one relayed, the refused one held in an entry of its own", () =>
      withRelaySink({ refuse: ["gone@example.net"] }, async (sink) => {
        const r = await queuedTo(sink.port, TWO_RECIPIENTS);
        try {
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(
            sink.messages.map((m) => m.to),
            [["ops@example.net"]],
          );
          assert.deepEqual(
            r.spool.map((e) => [e.state, e.recipients]),
            [["held", ["gone@example.net"]]],
          );
        } finally {
          await r.home.cleanup();
        }
      }));
  });
});
