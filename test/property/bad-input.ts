/**
 * The bad-input property (docs/contract.md §5, §6), run in-process against the real intake
 * (deliver), one pass of the real runner, a real loopback relay and real files: whatever
 * arrives on the pipe,
 *   - the answer is exit 0 or 75, with nothing or one status line on stderr (never a trace);
 *   - a canary planted in the message never appears in a byte that reaches the relay, and the
 *     sealed message decrypts (OpenPGP.js with the test-only secret key) to text that holds it;
 *   - on exit 0 the local copy holds the input (minus the MTA's From_ line).
 * `npm test` runs 2,000 cases; bench/fuzz-soak.mjs runs as many as you ask.
 *
 * Cases run 16 at a time (each with its own spool, Maildir and external recipient): smtp-server,
 * the sink, waits a fixed 100 ms before each greeting to catch early talkers, so one at a time
 * would spend most of the run asleep.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import * as openpgp from "openpgp";
import { loadConfig } from "../../src/config/load.js";
import { pipeAnswer } from "../../src/core/outcome.js";
import { refreshKeyIndex } from "../../src/crypto/key-index.js";
import { deliver } from "../../src/pipeline/deliver.js";
import { runPass } from "../../src/pipeline/pass.js";
import type { KeyIndex } from "../../src/store/key-index.js";
import { fixtureBytes, fixtures } from "../helpers/fixtures.js";
import { TEST_FPR, TEST_PUBLIC_KEY, TEST_SECRET_KEY } from "../helpers/paths.js";
import { Sink } from "../helpers/sink.js";
import { messageInput, withCanary } from "./messages.js";

const BATCH = 16;
const ENV = { SENDER: "root@web01.example.org", RECIPIENT: "root@web01.example.org" };

export interface Tally {
  cases: number;
  relayed: number;
  deferred: number;
}

export class BadInputBench {
  private readonly root = mkdtempSync(join(tmpdir(), "sealpost-fuzz-"));
  private readonly sink = new Sink();
  private secretKey!: openpgp.PrivateKey;
  private keyIndex!: KeyIndex;
  private serial = 0;
  readonly tally: Tally = { cases: 0, relayed: 0, deferred: 0 };

  async start(): Promise<void> {
    await this.sink.start();
    mkdirSync(join(this.root, "keys"));
    copyFileSync(TEST_PUBLIC_KEY, join(this.root, "keys", `${TEST_FPR}.asc`));
    this.keyIndex = await refreshKeyIndex(join(this.root, "keys"));
    this.secretKey = await openpgp.readPrivateKey({ armoredKey: readFileSync(TEST_SECRET_KEY, "utf8") });
  }

  async stop(): Promise<void> {
    await this.sink.stop();
    rmSync(this.root, { recursive: true, force: true });
  }

  /** The property over `cases` generated inputs (a multiple of BATCH); throws with the shrunk counterexample. */
  async run(cases: number, seed?: number): Promise<void> {
    const inputs = messageInput(
      fixtures()
        .filter((f) => f.entry_point.endsWith("pipe"))
        .map(fixtureBytes),
    );
    const canaryAt = fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 8 });
    const batch = fc.array(fc.tuple(inputs, canaryAt), { minLength: BATCH, maxLength: BATCH });
    await fc.assert(
      fc.asyncProperty(batch, async (items) => {
        await Promise.all(items.map(([input, at]) => this.check(input, at)));
      }),
      { numRuns: Math.ceil(cases / BATCH), seed, endOnFailure: true },
    );
  }

  async check(original: Buffer, canaryAt: number | null): Promise<void> {
    const canary = `CANARY${randomBytes(8).toString("hex")}`;
    const input = withCanary(original, canary, canaryAt);
    const serial = ++this.serial;
    const recipient = `case-${serial}@example.net`;
    const dir = join(this.root, `case-${serial}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, "sealpost.toml"),
      `hostname = "web01.example.org"\nkeys_dir = "../keys"\nspool_dir = "spool"\n` +
        `[local]\nstore = "maildir"\npath = "Maildir"\n[relay]\nhost = "127.0.0.1"\nport = ${this.sink.port}\nsecurity = "none"\n[log]\nsyslog = ""\n` +
        `[[route]]\nto = ["${recipient}"]\nkeys = ["${TEST_FPR}"]\n`,
    );
    try {
      const config = loadConfig(join(dir, "sealpost.toml"));
      const outcome = await deliver({ config, input, env: ENV, args: { recipients: [] }, keyIndex: () => Promise.resolve(this.keyIndex) });
      await runPass(config); // the runner's part: seal and relay what was committed
      const answer = pipeAnswer(outcome);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- PipeAnswer's type says 0 | 75; the property checks that the running code agrees
      assert.ok(answer.exitCode === 0 || answer.exitCode === 75);
      assert.match(answer.stderr, answer.exitCode === 0 ? /^$/ : /^4\.\d{1,3}\.\d{1,3} sealpost: [^\n]*\n$/);
      assert.doesNotMatch(answer.stderr, /\bat .*:\d+:\d+|Error:/, "no stack trace");
      const relayed = this.sink.take(recipient);
      for (const { raw } of relayed) await this.assertSealedCanary(raw, canary, canaryAt !== null);
      this.tally.cases++;
      if (answer.exitCode === 75) {
        this.tally.deferred++;
        return;
      }
      this.tally.relayed++;
      assert.equal(relayed.length, 1, "relayed once");
      const copies = readdirSync(join(dir, "Maildir", "new"));
      assert.equal(copies.length, 1, "one local copy");
      const stored = readFileSync(join(dir, "Maildir", "new", copies[0]!));
      assert.ok(stored.equals(withoutFromLine(input)), "the local copy holds the input");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async assertSealedCanary(raw: Buffer, canary: string, planted: boolean): Promise<void> {
    const text = raw.toString("latin1");
    for (const form of encodings(canary)) assert.ok(!text.includes(form), `canary (as ${form}) reached the relay`);
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(text);
    assert.ok(armored, "what reaches the relay is an armored OpenPGP message");
    const message = await openpgp.readMessage({ armoredMessage: armored[0] });
    const decrypted = await openpgp.decrypt({ message, decryptionKeys: this.secretKey, format: "binary" });
    // openpgp's types build data's type from @openpgp/web-stream-tools, which is not installed; from a
    // message read whole, in binary, it is a Uint8Array
    if (planted) assert.ok(Buffer.from(decrypted.data as Uint8Array).includes(canary), "the canary is inside the encryption");
  }
}

function withoutFromLine(input: Buffer): Buffer {
  if (input.subarray(0, 5).toString("latin1") !== "From ") return input;
  const nl = input.indexOf(0x0a);
  return nl === -1 ? Buffer.alloc(0) : input.subarray(nl + 1);
}

/** The canary as it would look in clear text, base64 (every alignment) or quoted-printable. */
function encodings(canary: string): string[] {
  const forms = [canary, canary.toLowerCase()];
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift, 0x20), Buffer.from(canary)]).toString("base64");
    forms.push(b64.slice(Math.ceil((shift * 4) / 3) + 2, -4)); // the stretch that only the canary determines
  }
  return forms;
}
