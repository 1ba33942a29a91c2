/**
 * `sealpost demo`: the main job on an embedded default, on this machine only. A throw-away
 * key, an in-process SMTP sink on 127.0.0.1 as the relay, a fail2ban notice through the same
 * intake the pipe uses (deliver), one pass of the same runner that seals and relays it, then the
 * relayed message decrypted with the throw-away key.
 */
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decrypt, generateKey, readMessage } from "openpgp";
import { SMTPServer } from "smtp-server";
import { loadConfig } from "../config/load.js";
import type { Outcome } from "../core/outcome.js";
import { refreshKeyIndex } from "../crypto/key-index.js";
import { importKeys } from "../crypto/key-import.js";
import { deliver } from "../pipeline/deliver.js";
import { runPass } from "../pipeline/pass.js";
import { SAMPLE_ENV, SAMPLE_NOTICE } from "./sample.js";

export interface DemoReport {
  workDir: string;
  fingerprint: string;
  /** What deliver answered (it commits; the runner relays). */
  outcome: Outcome;
  /** How many messages the runner's pass relayed. */
  relayedCount: number;
  localCopy?: string;
  relayed?: Buffer;
  decrypted?: Buffer;
  originalInside: boolean;
  plaintextOutside: boolean;
}

const RECIPIENT = "admin@example.net";

export async function runDemo(keep: boolean): Promise<DemoReport> {
  const workDir = await mkdtemp(join(tmpdir(), "sealpost-demo-"));
  const received: Buffer[] = [];
  const sink = new SMTPServer({
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push(Buffer.concat(chunks));
        cb();
      });
    },
  });
  try {
    await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", () => resolve()));
    const port = (sink.server.address() as { port: number }).port;
    const { publicKey, privateKey } = await generateKey({
      type: "ecc",
      curve: "curve25519Legacy",
      userIDs: [{ name: "sealpost demo (throw-away)", email: RECIPIENT }],
      format: "object",
    });
    const imported = await importKeys(join(workDir, "keys"), Buffer.from(publicKey.armor()));
    const config = join(workDir, "sealpost.toml");
    await writeFile(
      config,
      [
        'hostname = "demo.example.org"',
        'keys_dir = "keys"',
        'spool_dir = "spool"',
        "[local]",
        'store = "maildir"',
        'path = "Maildir"',
        "[relay]",
        'host = "127.0.0.1"',
        `port = ${port}`,
        'security = "none"',
        'envelope_from = "sealpost@demo.example.org"',
        "[log]",
        'syslog = ""',
        "[[route]]",
        `to = ["${RECIPIENT}"]`,
        "",
      ].join("\n"),
    );

    const input = Buffer.from(SAMPLE_NOTICE, "utf8");
    const settings = loadConfig(config);
    const outcome = await deliver({
      config: settings,
      input,
      env: SAMPLE_ENV,
      args: { recipients: [] },
      keyIndex: () => refreshKeyIndex(settings.keysDir),
    });
    const { relayed: relayedCount } = await runPass(settings); // what the background runner does after each commit
    const newDir = join(workDir, "Maildir", "new");
    const localName = (await readdir(newDir).catch(() => [] as string[]))[0];
    const relayed = received[0];
    let decrypted: Buffer | undefined;
    if (relayed) {
      const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(relayed.toString("latin1"))?.[0];
      if (armored) {
        const { data } = (await decrypt({
          message: await readMessage({ armoredMessage: armored }),
          decryptionKeys: privateKey,
          format: "binary",
        })) as { data: Uint8Array }; // openpgp types it through stream types this project does not load
        decrypted = Buffer.from(data);
      }
    }
    const body = SAMPLE_NOTICE.slice(SAMPLE_NOTICE.indexOf("\n\n") + 2).replace(/\n/g, "\r\n");
    return {
      workDir,
      fingerprint: imported.imported[0]?.info.fingerprint ?? "?",
      outcome,
      relayedCount,
      localCopy: localName ? join(newDir, localName) : undefined,
      relayed,
      decrypted,
      originalInside: decrypted?.includes(body) ?? false,
      plaintextOutside: relayed?.includes("Failed password") ?? false,
    };
  } finally {
    await new Promise<void>((resolve) => sink.close(() => resolve()));
    if (!keep) await rm(workDir, { recursive: true, force: true });
  }
}
