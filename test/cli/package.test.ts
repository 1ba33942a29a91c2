/**
 * Packaging: `npm pack` gives a tarball that installs with `npm install -g` — offline,
 * its dependencies bundled — into a `sealpost` whose pipe path works with PATH=/usr/bin:/bin.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { ROOT } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;

describe("npm pack and npm install -g", () => {
  const world = useWorld();

  it("the installed sealpost delivers with PATH=/usr/bin:/bin and no HOME, and has its man page", () =>
    inHome(world, {}, async (home, relayed) => {
      const dir = mkdtempSync(join(tmpdir(), "sealpost-pack-"));
      try {
        const npm = { cwd: ROOT, env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" }, stdio: "ignore" as const };
        execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], npm);
        const tarball = readdirSync(dir).find((n) => n.endsWith(".tgz"))!;
        const prefix = join(dir, "prefix");
        execFileSync("npm", ["install", "-g", "--offline", "--prefix", prefix, join(dir, tarball)], { ...npm, cwd: dir });
        assert.ok(existsSync(join(prefix, "share", "man", "man1", "sealpost.1")), "man page installed");
        home.bin = join(prefix, "bin", "sealpost");
        const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
        assert.equal(r.code, 0, r.stderr.toString());
        openSealed(relayed()[0]!, world.gpg);
        assert.equal(home.localCopies().length, 1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }));
});
