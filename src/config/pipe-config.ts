/** The config for deliver and sendmail: a config that cannot be read is a temporary 4.3.5 (docs/contract.md §6). */
import type { Config } from "./schema.js";
import { ConfigLoadError, loadConfig } from "./load.js";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";

export function readPipeConfig(file: string): Config {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigLoadError) throw new SealpostError(Reason.config, err.message, { cause: err });
    throw err;
  }
}
