/** A throw-away test CA (openssl) and certificates signed by it, for TLS tests on loopback. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class TestCa {
  readonly dir = mkdtempSync(join(tmpdir(), "sealpost-ca-"));
  readonly caFile = join(this.dir, "ca.pem");

  constructor() {
    this.ssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=sealpost test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
  }

  /** A key and certificate for `san` ("DNS:a.example,IP:127.0.0.1"), signed by this CA. */
  issue(name: string, san: string): { key: Buffer; cert: Buffer } {
    this.ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`);
    writeFileSync(join(this.dir, `${name}.ext`), `subjectAltName=${san}\n`);
    this.ssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    );
    return { key: readFileSync(join(this.dir, `${name}.key`)), cert: readFileSync(join(this.dir, `${name}.pem`)) };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private ssl(...args: string[]): void {
    execFileSync("openssl", args, { cwd: this.dir, stdio: "ignore" });
  }
}
