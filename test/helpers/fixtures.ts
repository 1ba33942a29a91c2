import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES } from "./paths.js";

export interface Fixture {
  file: string;
  entry_point: "postfix-pipe" | "exim-pipe" | "sendmail" | "smtp";
  hostname: string;
  envelope: { env?: Record<string, string>; argv?: string[] };
  expected: { from_address: string; from_display: string | null; subject: string | null; attachments?: Record<string, string> };
}

export function fixtures(): Fixture[] {
  return (JSON.parse(readFileSync(join(FIXTURES, "manifest.json"), "utf8")) as { fixtures: Fixture[] }).fixtures;
}

export function fixtureBytes(fx: Fixture): Buffer {
  return readFileSync(join(FIXTURES, fx.file));
}

/** The environment the MTA gives a pipe, minus its PATH (the test sets Postfix's own). */
export function pipeEnv(fx: Fixture): Record<string, string> {
  const env = { ...(fx.envelope.env ?? {}) };
  delete env.PATH;
  return env;
}
