/** deliver against relays that ask for more: AUTH from a password file, verified TLS, several recipients. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Gpg } from "../helpers/gpg.js";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home } from "../helpers/home.js";
import { TEST_FPR } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { Sink } from "../helpers/sink.js";
import { withSink } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);
const PASSWORD = "s3cret-relay-password";

/** These rows are about what deliver answers when the relay is set up wrong: it relays before answering. */
const INLINE = '[deliver]\nrelay = "inline"\n';

describe("deliver and the relay", () => {
  let gpg: Gpg;
  let certDir: string;
  before(() => {
    gpg = new Gpg();
    certDir = mkdtempSync(join(tmpdir(), "sealpost-cert-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-keyout",
        join(certDir, "key.pem"),
        "-out",
        join(certDir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
  });
  after(() => {
    gpg.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  async function withRelay(sink: Sink, fn: (home: Home) => Promise<void>, extra = "", route?: string): Promise<void> {
    await sink.start();
    const home = new Home({ relayPort: sink.port, route });
    home.writeConfig({ extra: extra.replaceAll("ROOT", home.root) });
    try {
      await home.importTestKey();
      await fn(home);
    } finally {
      await home.cleanup();
      await sink.stop();
    }
  }

  it("logs in with the password from password_file, which never shows in output", async () => {
    const sink = new Sink("accept", { auth: { user: "alerts@example.net", pass: PASSWORD } });
    await withRelay(
      sink,
      async (home) => {
        const file = join(home.root, "relay.pass");
        writeFileSync(file, PASSWORD + "\n", { mode: 0o600 });
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.deepEqual(sink.logins, ["alerts@example.net"]);
        assert.equal(sink.messages.length, 1);
      },
      '[relay]\nuser = "alerts@example.net"\npassword_file = "ROOT/relay.pass"\n'.replace("[relay]\n", ""),
    );
  });

  it("refuses a world-readable password file with exit 75, without the password", async () => {
    const sink = new Sink("accept", { auth: { user: "alerts@example.net", pass: PASSWORD } });
    await withRelay(
      sink,
      async (home) => {
        const file = join(home.root, "relay.pass");
        writeFileSync(file, PASSWORD);
        chmodSync(file, 0o644);
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 75);
        assert.equal(r.stderr.toString(), "4.3.5 sealpost: relay.password_file must be mode 0600 or 0640\n");
        assert.equal(sink.messages.length, 0);
      },
      `user = "alerts@example.net"\npassword_file = "ROOT/relay.pass"\n${INLINE}`,
    );
  });

  /** deliver with security = "starttls" against `sink`: what it answered, and the spool after it. */
  async function deliverOverStarttls(sink: Sink): Promise<{ code: number | null; stderr: string; spool: string }> {
    const home = new Home({ relayPort: sink.port, extra: INLINE });
    try {
      await home.importTestKey();
      writeFileSync(home.config, readFileSync(home.config, "utf8").replace('security = "none"', 'security = "starttls"'));
      const r = await home.deliver(RAW, ENV);
      return { code: r.code, stderr: r.stderr.toString(), spool: (await home.run(["queue", "list", "--json"])).stdout.toString().trim() };
    } finally {
      await home.cleanup();
    }
  }

  const TLS_FAILED = /^4\.4\.1 sealpost: relay 127\.0\.0\.1:\d+ TLS failed \(no STARTTLS, or a certificate that does not verify\)\n$/;

  it("with security = starttls, an unverifiable certificate defers and sends nothing", () =>
    withSink(
      "accept",
      async (sink) => {
        const r = await deliverOverStarttls(sink);
        assert.equal(r.code, 75);
        assert.match(r.stderr, TLS_FAILED);
        assert.equal(sink.messages.length, 0);
      },
      { tls: { key: readFileSync(join(certDir, "key.pem")), cert: readFileSync(join(certDir, "cert.pem")) } },
    ));

  it("with security = starttls, a relay without STARTTLS defers: no plaintext SMTP, nothing held", () =>
    withSink("accept", async (sink) => {
      const r = await deliverOverStarttls(sink);
      assert.equal(r.code, 75);
      assert.match(r.stderr, TLS_FAILED);
      assert.equal(sink.messages.length, 0);
      assert.equal(r.spool, "[]", "a set-up problem, not a refusal");
    }));

  it("sends one sealed message per external recipient; a refused recipient is held, the other relayed", async () => {
    const sink = new Sink("accept", { refuse: ["gone@example.net"] });
    await withRelay(
      sink,
      async (home) => {
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(sink.messages.length, 1);
        assert.deepEqual(sink.messages[0]!.to, ["ops@example.net"]);
        const opened = openSealed(sink.messages[0]!.raw, gpg);
        assert.deepEqual(opened.outerFields.get("to"), ["ops@example.net"]);
        const held = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Array<{
          state: string;
          recipients: string[];
        }>;
        assert.deepEqual(
          held.map((e) => [e.state, e.recipients]),
          [["held", ["gone@example.net"]]],
        );
        // the MTA running it again changes nothing
        assert.equal((await home.deliver(RAW, ENV)).code, 0);
        assert.equal(sink.messages.length, 1);
      },
      "",
      `[[route]]\nto = ["ops@example.net", "gone@example.net"]\nkeys = ["${TEST_FPR}"]`,
    );
  });

  it("a message for a recipient no route matches is kept locally and not relayed", async () => {
    const sink = new Sink("accept");
    await withRelay(
      sink,
      async (home) => {
        const r = await home.deliver(RAW, { ...ENV, RECIPIENT: "www-data@localhost", ORIGINAL_RECIPIENT: "www-data@localhost" });
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(home.localCopies().length, 1);
        assert.equal(sink.messages.length, 0);
      },
      "",
      '[[route]]\nmatch_recipient = ["root"]\nto = ["ops@example.net"]',
    );
  });
});
