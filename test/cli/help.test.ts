/** Every command's --help ends with examples, and asking for help never touches config or spool. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { BIN } from "../helpers/paths.js";

const COMMANDS = [
  ["deliver"],
  ["sendmail"],
  ["serve"],
  ["doctor"],
  ["test"],
  ["init"],
  ["demo"],
  ["keys", "import"],
  ["keys", "fetch"],
  ["keys", "check"],
  ["keys", "list"],
  ["keys", "remove"],
  ["keys", "host"],
  ["queue"],
  ["queue", "run"],
];

describe("--help", () => {
  for (const command of COMMANDS) {
    it(`sealpost ${command.join(" ")} --help shows examples and exits 0`, () => {
      const r = spawnSync(BIN, [...command, "--help"], { env: { PATH: "/usr/bin:/bin", SEALPOST_CONFIG: "/nonexistent/sealpost.toml" } });
      assert.equal(r.status, 0, r.stderr.toString());
      assert.match(r.stdout.toString(), /\nExamples?( \([^)]*\))?:\n {2}\S/, r.stdout.toString());
      assert.equal(r.stderr.length, 0);
    });
  }
});
