/** Finds, reads and validates the config file (docs/contract.md §2, §3). */
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { errnoWords } from "../core/errors.js";
import { ConfigError, isTable } from "./fields.js";
import { Config, buildConfig } from "./schema.js";

export const DEFAULT_CONFIG_FILE = "/etc/sealpost/sealpost.toml";

/** -c/--config, then $SEALPOST_CONFIG, then the default path. */
export function configPath(option: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(option ?? (env.SEALPOST_CONFIG || DEFAULT_CONFIG_FILE));
}

export class ConfigLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigLoadError";
  }
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigLoadError(`config ${file}: ${errnoWords(err)}`, { cause: err });
  }
  let table: unknown;
  try {
    table = parse(text);
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : "";
    const first = err instanceof Error ? err.message.split("\n")[0] : "invalid TOML";
    throw new ConfigLoadError(`config ${file}: not valid TOML${where}: ${first}`, { cause: err });
  }
  if (!isTable(table)) throw new ConfigLoadError(`config ${file}: not a TOML table`);
  try {
    return buildConfig(table, file, dirname(file));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigLoadError(`config ${file}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * The config for each pass of a long-lived runner: `started` until the file changes, then the
 * file as it is now, read again only when its stat changes (a pass comes with every message).
 * A file broken meanwhile keeps the last good config: an admin's half-saved edit stops nothing.
 */
export function configFollower(started: Config): () => Config {
  let current = started;
  let stamp = fileStamp(started.file);
  return () => {
    const now = fileStamp(started.file);
    if (now === stamp) return current;
    stamp = now;
    try {
      current = loadConfig(started.file);
    } catch {
      // broken meanwhile: the last good one
    }
    return current;
  };
}

function fileStamp(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.mtimeMs}:${s.ctimeMs}:${s.size}`;
  } catch {
    return "missing";
  }
}
