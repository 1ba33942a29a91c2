/** Loading the config for commands other than deliver: a clear one-line error, exit 1. */
import { configPath, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";

export function commandConfig(option: string | undefined): Config {
  return loadConfig(configPath(option, process.env));
}
