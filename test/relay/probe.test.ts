/**
 * doctor's relay probe (src/relay/probe.ts) over real loopback sockets: the whole envelope and
 * never DATA, STARTTLS verified against a test CA, AUTH PLAIN and LOGIN, refusals worded as
 * doctor prints them, and relays that stay silent or never end a line given up on, in bounds.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { Config } from "../../src/config/schema.js";
import { printable } from "../../src/core/printable.js";
import { SealpostError } from "../../src/core/errors.js";
import { probeRelay } from "../../src/relay/probe.js";
import { RawRelay } from "../helpers/raw-relay.js";
import { Sink, type SinkOptions } from "../helpers/sink.js";
import { TestCa } from "../helpers/test-ca.js";

const HOSTNAME = "web01.example.org";
const TO = ["ops@example.net", "audit@example.net"];
const USER = "alerts@example.net";
const PASS = "s3cret pass";

type Relay = Config["relay"];
const relayAt = (port: number, more: Partial<Relay> = {}): Relay => ({
  host: "127.0.0.1",
  port,
  security: "none",
  timeoutSeconds: 5,
  ...more,
});
const probe = (relay: Relay) => probeRelay({ relay, hostname: HOSTNAME }, TO);

/** The SealpostError the probe failed with (doctor prints its message, escaped). */
async function failure(run: Promise<void>): Promise<SealpostError> {
  const err = await run.then(
    () => assert.fail("the probe should have failed"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SealpostError, String(err));
  assert.equal(err.status, "4.4.1");
  return err;
}

/**
 * A scripted relay that keeps every line it is sent: `ehlo` is its whole EHLO reply (or writes
 * it), `answer` gives the reply to the rest (undefined: none).
 */
function scripted(ehlo: string | ((socket: Socket) => void), answer: (line: string) => string | undefined = () => "250 ok") {
  const seen: string[] = [];
  const relay = new RawRelay("220 relay.test ESMTP", (line, socket) => {
    seen.push(line);
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === "EHLO") {
      if (typeof ehlo === "string") socket.write(ehlo);
      else ehlo(socket);
      return;
    }
    if (verb === "QUIT") return void socket.end("221 bye\r\n");
    const reply = answer(line);
    if (reply !== undefined) socket.write(`${reply}\r\n`);
  });
  return { relay, seen };
}

async function using<T extends { start(): Promise<T>; stop(): Promise<void> }>(server: T, fn: (s: T) => Promise<void>): Promise<void> {
  await server.start();
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** Writes `piece` over and over until the client hangs up; resolves when it has. */
function flood(socket: Socket, piece: string): Promise<void> {
  const chunk = Buffer.from(piece.repeat(Math.ceil(16384 / piece.length)));
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    const pump = () => {
      while (!socket.destroyed && socket.writable) if (!socket.write(chunk)) return void socket.once("drain", pump);
    };
    pump();
  });
}

describe("the relay probe", () => {
  let dir: string;
  let passwordFile: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-probe-"));
    passwordFile = join(dir, "relay.pass");
    writeFileSync(passwordFile, `${PASS}\n`, { mode: 0o600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("plain: EHLO with our name, MAIL FROM, RCPT TO for each recipient, RSET, QUIT; never DATA", () =>
    using(new Sink(), async (sink) => {
      await probe(relayAt(sink.port));
      assert.deepEqual(sink.mailFroms, [`sealpost@${HOSTNAME}`]);
      assert.equal(sink.messages.length, 0, "nothing sent");
    }));

  it("a multi-line EHLO, arriving in pieces split mid-line, is one reply; the commands are exactly these", async () => {
    const ehlo = "250-relay.test greets web01\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n";
    const { relay, seen } = scripted((socket) => {
      socket.write(ehlo.slice(0, 40));
      setTimeout(() => socket.write(ehlo.slice(40)), 30);
    });
    await using(relay, async () => {
      await probe(relayAt(relay.port, { envelopeFrom: "root@web01.example.org" }));
      assert.deepEqual(seen, [
        `EHLO ${HOSTNAME}`,
        "MAIL FROM:<root@web01.example.org>",
        "RCPT TO:<ops@example.net>",
        "RCPT TO:<audit@example.net>",
        "RSET",
        "QUIT",
      ]);
    });
  });

  it("AUTH PLAIN with the password file's password, when relay.user is set", () =>
    using(new Sink("accept", { auth: { user: USER, pass: PASS } }), async (sink) => {
      await probe(relayAt(sink.port, { user: USER, passwordFile }));
      assert.deepEqual(sink.logins, [USER]);
      assert.deepEqual(sink.mailFroms, [USER], "relay.user is an address: it is the envelope sender");
      assert.equal(sink.messages.length, 0);
    }));

  it("AUTH LOGIN when the relay offers LOGIN and not PLAIN", async () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const { relay, seen } = scripted("250-relay.test\r\n250 AUTH LOGIN CRAM-MD5\r\n", (line) =>
      line === "AUTH LOGIN" ? "334 VXNlcm5hbWU6" : line === b64(USER) ? "334 UGFzc3dvcmQ6" : line === b64(PASS) ? "235 2.7.0 ok" : "250 ok",
    );
    await using(relay, async () => {
      await probe(relayAt(relay.port, { user: USER, passwordFile }));
      assert.deepEqual(seen.slice(0, 5), [`EHLO ${HOSTNAME}`, "AUTH LOGIN", b64(USER), b64(PASS), `MAIL FROM:<${USER}>`]);
    });
  });

  it("AUTH rejected: the login is refused, and the password never shows", () =>
    using(new Sink("accept", { auth: { user: USER, pass: "another" } }), async (sink) => {
      const err = await failure(probe(relayAt(sink.port, { user: USER, passwordFile })));
      assert.equal(err.message, `relay 127.0.0.1:${sink.port} refused the login (check relay.user and relay.password_file)`);
      assert.ok(!err.message.includes("s3cret"));
      assert.deepEqual(sink.mailFroms, [], "no envelope after a refused login");
    }));

  it("RCPT rejected: the message names the command and quotes the reply", () =>
    using(new Sink("accept", { refuse: ["audit@example.net"] }), async (sink) => {
      const err = await failure(probe(relayAt(sink.port)));
      assert.equal(err.message, `relay 127.0.0.1:${sink.port} answered RCPT TO with: 550 5.1.1 no such user`);
      assert.equal(sink.messages.length, 0);
    }));

  it("a multi-line refusal is quoted on one line, cut to 200 characters; doctor prints it escaped", async () => {
    const { relay } = scripted("250 relay.test\r\n", (line) =>
      line.startsWith("MAIL") ? `550-5.7.1 first \x1b[31mred\r\n550 5.7.1 ${"x".repeat(500)}` : "250 ok",
    );
    await using(relay, async () => {
      const err = await failure(probe(relayAt(relay.port)));
      const reply = `550-5.7.1 first \x1b[31mred 550 5.7.1 ${"x".repeat(500)}`;
      assert.equal(err.message, `relay 127.0.0.1:${relay.port} answered MAIL FROM with: ${reply.slice(0, 200)}`);
      assert.match(printable(err.message), /first \\x1b\[31mred 550 5\.7\.1 x+$/);
      // eslint-disable-next-line no-control-regex -- no control character may reach the terminal
      assert.doesNotMatch(printable(err.message), /[\x00-\x1f]/);
    });
  });

  it("421 at the greeting, and a relay that is not there, are worded as for a send", async () => {
    await using(new RawRelay("421 relay.test too busy"), async (busy) => {
      assert.equal((await failure(probe(relayAt(busy.port)))).message, `relay 127.0.0.1:${busy.port} answered: 421 relay.test too busy`);
    });
    assert.equal((await failure(probe(relayAt(1)))).message, "relay 127.0.0.1:1 cannot connect");
  });

  it("a relay that never answers, or goes silent after EHLO, times out after relay.timeout", async () => {
    for (const relay of [new RawRelay(null), scripted("250 relay.test\r\n", () => undefined).relay]) {
      await using(relay, async () => {
        const started = Date.now();
        const err = await failure(probe(relayAt(relay.port, { timeoutSeconds: 1 })));
        assert.equal(err.message, `relay 127.0.0.1:${relay.port} timed out`);
        const took = Date.now() - started;
        assert.ok(took >= 900 && took < 4000, `took ${took} ms`);
      });
    }
  });

  it("a relay that sends an endless line, or endless continuation lines, is dropped at the bound, not at the timeout", async () => {
    for (const piece of ["250-x", "250-relay.test says more\r\n"]) {
      let flooded: Promise<void> | undefined;
      const { relay } = scripted((socket) => {
        flooded = flood(socket, piece);
      });
      await using(relay, async () => {
        const started = Date.now();
        const err = await failure(probe(relayAt(relay.port, { timeoutSeconds: 60 })));
        assert.equal(err.message, `relay 127.0.0.1:${relay.port} failed`);
        await flooded; // the probe hung up: the relay's writes end
        assert.ok(Date.now() - started < 10_000, "well before relay.timeout");
      });
    }
  });

  describe("TLS, verified against a test CA", () => {
    let ca: TestCa;
    const certs: Record<string, { key: Buffer; cert: Buffer }> = {};
    before(() => {
      ca = new TestCa();
      certs.right = ca.issue("right", "IP:127.0.0.1");
      certs.wrong = ca.issue("wrong", "DNS:smtp.elsewhere.example");
    });
    after(() => ca.cleanup());

    /**
     * The probe in a node of its own: NODE_EXTRA_CA_CERTS is read when a process starts, and
     * that is how the CA is given to sealpost (as in relay-faults.test.ts); async, so the sink in
     * this process keeps answering. Resolves with the error message, or "ok".
     */
    async function probeInChild(relay: Relay, trustCa = true): Promise<string> {
      const script = `const { probeRelay } = await import(process.argv[1]);
        await probeRelay(JSON.parse(process.argv[2]), JSON.parse(process.argv[3])).then(() => console.log("ok"), (e) => console.log(e.status + " " + e.message));`;
      const env = { ...process.env };
      if (trustCa) env.NODE_EXTRA_CA_CERTS = ca.caFile;
      else delete env.NODE_EXTRA_CA_CERTS;
      const url = pathToFileURL(join(import.meta.dirname, "../../src/relay/probe.js")).href;
      const args = ["--input-type=module", "-e", script, url, JSON.stringify({ relay, hostname: HOSTNAME }), JSON.stringify(TO)];
      const { stdout } = await promisify(execFile)(process.execPath, args, { env, timeout: 30_000 });
      return stdout.trim();
    }

    it("STARTTLS with a certificate the CA signed for 127.0.0.1: the envelope, no DATA", () =>
      using(new Sink("accept", { tls: certs.right! }), async (sink) => {
        assert.equal(await probeInChild(relayAt(sink.port, { security: "starttls" })), "ok");
        assert.deepEqual(sink.mailFroms, [`sealpost@${HOSTNAME}`]);
        assert.equal(sink.messages.length, 0);
      }));

    it("and AUTH over it", () =>
      using(new Sink("accept", { tls: certs.right!, auth: { user: USER, pass: PASS } }), async (sink) => {
        assert.equal(await probeInChild(relayAt(sink.port, { security: "starttls", user: USER, passwordFile })), "ok");
        assert.deepEqual(sink.logins, [USER]);
      }));

    it("a wrong name, an unknown CA, no STARTTLS on offer, implicit TLS to a plain port: TLS failed, no envelope", async () => {
      const cases: Array<[SinkOptions, Partial<Relay>, boolean]> = [
        [{ tls: certs.wrong! }, { security: "starttls" }, true],
        [{ tls: certs.right! }, { security: "starttls" }, false],
        [{}, { security: "starttls" }, true],
        [{}, { security: "tls" }, true],
      ];
      for (const [options, more, trustCa] of cases) {
        await using(new Sink("accept", options), async (sink) => {
          assert.equal(
            await probeInChild(relayAt(sink.port, more), trustCa),
            `4.4.1 relay 127.0.0.1:${sink.port} TLS failed (no STARTTLS, or a certificate that does not verify)`,
            JSON.stringify(more),
          );
          assert.deepEqual(sink.mailFroms, []);
        });
      }
    });
  });
});
