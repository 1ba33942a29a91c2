/**
 * The interop matrix: what sealpost sends, signed and unsigned, to an RSA-3072 and a
 * Curve25519 recipient, decrypts — and its signature verifies — with GnuPG (gpg), Sequoia (sq)
 * and RNP (rnp, Thunderbird's engine). A tool that is not installed is skipped, saying so;
 * .ci/run installs all three.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKey, type PrivateKey } from "openpgp";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const MARKER = "Fail2Ban"; // text of the fixture that must come out of every decryption

interface Party {
  fpr: string;
  secretFile: string;
  publicFile: string;
}

type Tool = (message: string, recipient: Party, signer: Party | undefined, dir: string) => { ok: boolean; detail: string };

const run = (cmd: string, args: string[], input?: string) => spawnSync(cmd, args, { input, maxBuffer: 64 * 1024 * 1024 });
const installed = (cmd: string) => run(cmd, ["--version"]).status === 0;

const TOOLS: Record<string, Tool> = {
  gpg: (message, recipient, signer, dir) => {
    const home = mkdtempSync(join(dir, "gpg-"));
    writeFileSync(join(home, "gpg.conf"), "auto-key-locate local\nno-auto-key-retrieve\ntrust-model always\n");
    for (const f of [recipient.secretFile, ...(signer ? [signer.publicFile] : [])])
      run("gpg", ["--homedir", home, "--batch", "--quiet", "--import", f]);
    const p = run("gpg", ["--homedir", home, "--batch", "--status-fd", "2", "--decrypt"], message);
    run("gpgconf", ["--homedir", home, "--kill", "all"]);
    const status = p.stderr.toString();
    const ok = status.includes("DECRYPTION_OKAY") && p.stdout.includes(MARKER) && (!signer || status.includes(`VALIDSIG ${signer.fpr}`));
    return { ok, detail: status.slice(-400) };
  },
  sq: (message, recipient, signer) => {
    const p = run(
      "sq",
      ["decrypt", "--recipient-key", recipient.secretFile, ...(signer ? ["--signer-cert", signer.publicFile] : [])],
      message,
    );
    return { ok: p.status === 0 && p.stdout.includes(MARKER), detail: p.stderr.toString().slice(-400) };
  },
  rnp: (message, recipient, signer, dir) => {
    const home = mkdtempSync(join(dir, "rnp-"));
    for (const f of [recipient.secretFile, ...(signer ? [signer.publicFile] : [])]) run("rnpkeys", ["--homedir", home, "--import", f]);
    const file = join(home, "message.asc");
    writeFileSync(file, message);
    const p = run("rnp", ["--homedir", home, "--decrypt", file, "--output", "-"]);
    const said = p.stderr.toString();
    const ok = p.status === 0 && p.stdout.includes(MARKER) && (!signer || /Good signature/i.test(said));
    return { ok, detail: said.slice(-400) };
  },
};

describe("interop: gpg, sq and rnp read what sealpost sends", () => {
  const world = useWorld();
  let dir: string;
  const recipients: Record<string, Party> = {};
  let host: Party;

  function party(name: string, key: PrivateKey): Party {
    const secretFile = join(dir, `${name}.sec.asc`);
    const publicFile = join(dir, `${name}.pub.asc`);
    writeFileSync(secretFile, key.armor(), { mode: 0o600 });
    writeFileSync(publicFile, key.toPublic().armor());
    return { fpr: key.getFingerprint().toUpperCase(), secretFile, publicFile };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-interop-"));
    const userIDs = [{ name: "TEST-ONLY interop", email: "ops@example.net" }];
    recipients["RSA-3072"] = party("rsa", (await generateKey({ type: "rsa", rsaBits: 3072, userIDs, format: "object" })).privateKey);
    recipients["Curve25519"] = party(
      "cv25519",
      (await generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs, format: "object" })).privateKey,
    );
    host = party(
      "host",
      (
        await generateKey({
          type: "ecc",
          curve: "ed25519Legacy",
          subkeys: [],
          userIDs: [{ name: "sealpost on web01", email: "sealpost@web01.example.org" }],
          format: "object",
        })
      ).privateKey,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const keyType of ["RSA-3072", "Curve25519"]) {
    for (const signed of [false, true]) {
      for (const tool of Object.keys(TOOLS)) {
        it(`${tool}: ${keyType} recipient, ${signed ? "signed" : "unsigned"}`, async (t) => {
          if (!installed(tool)) {
            t.skip(`${tool} is not installed (.ci/run installs it)`);
            return;
          }
          const recipient = recipients[keyType]!;
          await inHome(world, {}, async (home, relayed) => {
            home.writeConfig({ route: `[[route]]\nto = ["ops@example.net"]\nkeys = ["${recipient.fpr}"]` });
            assert.equal((await home.run(["keys", "import", recipient.publicFile])).code, 0);
            if (signed) {
              copyFileSync(host.secretFile, join(home.root, "host-key.asc"));
              home.enableSigning();
            }
            const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
            assert.equal(r.code, 0, r.stderr.toString());
            const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(relayed()[0]!.toString("latin1"))![0];
            const result = TOOLS[tool]!(armored, recipient, signed ? host : undefined, dir);
            assert.ok(result.ok, `${tool} could not ${signed ? "decrypt and verify" : "decrypt"}: ${result.detail}`);
          });
        });
      }
    }
  }
});
