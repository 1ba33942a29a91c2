/** Durations and sizes as docs/contract.md §3 writes them: integers, or "30s" / "5m" / "25MB" strings. */

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Seconds, or undefined when the value is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+)\s*([smhd])?\s*$/i.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * DURATION_UNITS[(m[2] ?? "s").toLowerCase()]!;
}

/** Bytes, or undefined when the value is not a size. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? "b").toLowerCase()]!;
}
