/**
 * The hostile-input property, run in-process against the intake serve uses
 * (prepareSubmission, submit) and a spool pass, with real files, a real loopback relay
 * and routes that classify (match_kind, subject_template), so the event loop's delay can be
 * measured where it happens (perf_hooks.monitorEventLoopDelay). Whatever the header or the
 * recipients:
 *   - the message is refused as too big (5.3.4), or stored and relayed once;
 *   - nothing stored is over max_size;
 *   - no step holds the event loop for a second (serve's budget is 100 ms; the bound is generous
 *     for a shared machine).
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import fc from "fast-check";
import { loadConfig } from "../../src/config/load.js";
import { SealpostError } from "../../src/core/errors.js";
import { Reason } from "../../src/core/outcome.js";
import { runPass } from "../../src/pipeline/pass.js";
import { prepareSubmission } from "../../src/pipeline/submission.js";
import { submit } from "../../src/pipeline/submit.js";
import { Relay } from "../../src/relay/relay.js";
import { RCPT, TEST_FPR, TEST_PUBLIC_KEY } from "../helpers/paths.js";
import { Sink } from "../helpers/sink.js";
import { hostileBytes, hostileInput, type HostileCase } from "./messages.js";

const MAX_SIZE = 25 * 1024 * 1024;
const HOSTNAME = "web01.example.org";

export interface HostileTally {
  refused: number;
  relayed: number;
  /** The longest the event loop was held in any case, in ms. */
  longestMs: number;
  longestShape: string;
}

export class HostileBench {
  private readonly root = mkdtempSync(join(tmpdir(), "sealpost-hostile-"));
  private readonly sink = new Sink();
  private serial = 0;
  readonly tally: HostileTally = { refused: 0, relayed: 0, longestMs: 0, longestShape: "" };

  async start(): Promise<void> {
    await this.sink.start();
    mkdirSync(join(this.root, "keys"));
    copyFileSync(TEST_PUBLIC_KEY, join(this.root, "keys", `${TEST_FPR}.asc`));
  }

  async stop(): Promise<void> {
    await this.sink.stop();
    rmSync(this.root, { recursive: true, force: true });
  }

  async run(cases: number, seed?: number): Promise<void> {
    const recipients = fc.integer({ min: 1, max: 1_000 });
    await fc.assert(
      fc.asyncProperty(hostileInput(), recipients, async (input, count) => this.check(input, count)),
      { numRuns: cases, seed, endOnFailure: true },
    );
  }

  async check(hostile: HostileCase, recipients: number): Promise<void> {
    const input = { shape: hostile.shape, bytes: hostileBytes(hostile) }; // made before the clock runs
    const dir = join(this.root, `case-${++this.serial}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, "sealpost.toml"),
      `hostname = "${HOSTNAME}"\nkeys_dir = "../keys"\nspool_dir = "spool"\n` +
        `[local]\nstore = "maildir"\npath = "Maildir"\n[relay]\nhost = "127.0.0.1"\nport = ${this.sink.port}\nsecurity = "none"\n` +
        `[message]\nprotect_subject = true\nsubject_template = "[{host}] {kind}"\n[serve]\nmax_size = ${MAX_SIZE}\n[log]\nsyslog = ""\n` +
        `[[route]]\nmatch_kind = ["login.*", "raid", "bounce"]\nto = ["${RCPT}"]\nkeys = ["${TEST_FPR}"]\n` +
        `[[route]]\nto = ["${RCPT}"]\nkeys = ["${TEST_FPR}"]\n`,
    );
    const config = loadConfig(join(dir, "sealpost.toml"));
    const relay = new Relay({ relay: config.relay, hostname: HOSTNAME });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    try {
      const now = new Date();
      const to = Array.from({ length: recipients }, (_, i) => `r${i}@localhost`);
      let prepared;
      try {
        prepared = prepareSubmission(
          input.bytes,
          { mode: "send", sender: "a@b.example", recipients: to, extractRecipients: false, dotEndsMessage: false },
          { user: "MAILER-DAEMON", hostname: HOSTNAME },
          now,
          { maxSize: MAX_SIZE },
        );
      } catch (err) {
        assert.ok(err instanceof SealpostError && err.reason === Reason.tooBig, `refused only as too big: ${String(err)}`);
        this.tally.refused++;
        return;
      }
      await submit(config, HOSTNAME, prepared.bytes, prepared.envelope, now, { via: "serve" });
      await runPass(config, { relay, lockWaitMs: 0 });
      const copies = readdirSync(join(dir, "Maildir", "new"));
      assert.equal(copies.length, 1, "one local copy");
      assert.ok(statSync(join(dir, "Maildir", "new", copies[0]!)).size <= MAX_SIZE, "stored within max_size");
      assert.equal(this.sink.take(RCPT).length, 1, "relayed once");
      this.tally.relayed++;
    } finally {
      delay.disable();
      relay.close();
      const longest = delay.max / 1e6;
      if (longest > this.tally.longestMs) Object.assign(this.tally, { longestMs: longest, longestShape: input.shape });
      rmSync(dir, { recursive: true, force: true });
      assert.ok(longest < 1_000, `${input.shape} (${input.bytes.length} bytes) held the event loop ${longest.toFixed(0)} ms`);
    }
  }
}
