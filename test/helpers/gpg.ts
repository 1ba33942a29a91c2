/** A throw-away GnuPG home holding the TEST-ONLY secret key (or another): real gpg decrypts every sealed output. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_SECRET_KEY } from "./paths.js";

export class Gpg {
  readonly home: string;

  constructor(secretKeyFile = TEST_SECRET_KEY) {
    this.home = mkdtempSync(join(tmpdir(), "sealpost-test-gpg-"));
    // Never reach for the network: local key lookups only.
    writeFileSync(join(this.home, "gpg.conf"), "auto-key-locate local\nno-auto-key-retrieve\ntrust-model always\n");
    execFileSync("gpg", ["--homedir", this.home, "--batch", "--quiet", "--import", secretKeyFile], { stdio: "ignore" });
  }

  decrypt(armored: string | Buffer): { plaintext: Buffer; status: string; ok: boolean } {
    const p = spawnSync("gpg", ["--homedir", this.home, "--batch", "--status-fd", "2", "--decrypt"], {
      input: armored,
      maxBuffer: 256 * 1024 * 1024,
    });
    const status = p.stderr.toString();
    return { plaintext: p.stdout, status, ok: status.includes("DECRYPTION_OKAY") };
  }

  packets(armored: string | Buffer): string {
    const p = spawnSync("gpg", ["--homedir", this.home, "--batch", "--list-packets"], { input: armored, maxBuffer: 256 * 1024 * 1024 });
    return p.stdout.toString() + p.stderr.toString();
  }

  close(): void {
    spawnSync("gpgconf", ["--homedir", this.home, "--kill", "all"]);
    rmSync(this.home, { recursive: true, force: true });
  }
}
