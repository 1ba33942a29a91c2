/**
 * Small typed readers for config values. Each one either returns a valid value or throws a
 * ConfigError that names the key and says what was expected: never a silent fallback.
 */
import { parseDuration, parseSize } from "./units.js";

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly expected: string,
    got: unknown,
  ) {
    super(`${key}: expected ${expected}, got ${describe(got)}`);
    this.name = "ConfigError";
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value);
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (typeof value === "object" && value !== null) return "a table";
  return typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" ? String(value) : typeof value;
}

export type Table = Record<string, unknown>;

export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Unknown keys are errors: a typo must not silently fall back to a default. */
export function rejectUnknownKeys(table: Table, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(table)) {
    if (!known.includes(key)) throw new ConfigError(prefix + key, `one of the known keys (${known.join(", ")})`, "an unknown key");
  }
}

export function str(table: Table, key: string, prefix: string, fallback: string): string {
  const v = table[key];
  if (v === undefined) return fallback;
  if (typeof v !== "string" || v.trim() === "") throw new ConfigError(prefix + key, "a non-empty string", v);
  return v;
}

export function optionalStr(table: Table, key: string, prefix: string): string | undefined {
  return table[key] === undefined ? undefined : str(table, key, prefix, "");
}

export function bool(table: Table, key: string, prefix: string, fallback: boolean): boolean {
  const v = table[key];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new ConfigError(prefix + key, "true or false", v);
  return v;
}

export function oneOf<T extends string>(table: Table, key: string, prefix: string, choices: readonly T[], fallback: T): T {
  const v = table[key];
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw new ConfigError(prefix + key, choices.map((c) => JSON.stringify(c)).join(" or "), v);
  }
  return v as T;
}

export function port(table: Table, key: string, prefix: string, fallback: number): number {
  const v = table[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw new ConfigError(prefix + key, "an integer 1-65535", v);
  }
  return v;
}

export function duration(table: Table, key: string, prefix: string, fallback: number): number {
  if (table[key] === undefined) return fallback;
  const seconds = parseDuration(table[key]);
  if (seconds === undefined) throw new ConfigError(prefix + key, 'a duration such as 30, "30s", "5m", "4h" or "5d"', table[key]);
  return seconds;
}

export function size(table: Table, key: string, prefix: string, fallback: number): number {
  if (table[key] === undefined) return fallback;
  const bytes = parseSize(table[key]);
  if (bytes === undefined) throw new ConfigError(prefix + key, 'a size such as 1048576, "512KB" or "25MB"', table[key]);
  return bytes;
}

export function stringList(table: Table, key: string, prefix: string, fallback: string[]): string[] {
  const v = table[key];
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.some((item) => typeof item !== "string" || item.trim() === "")) {
    throw new ConfigError(prefix + key, "an array of non-empty strings", v);
  }
  return v as string[];
}

export function subTable(table: Table, key: string, prefix: string): Table {
  const v = table[key];
  if (v === undefined) return {};
  if (!isTable(v)) throw new ConfigError(prefix + key, "a table", v);
  return v;
}
