/**
 * Text from outside (a key's user id, a server's error) made safe to print on a terminal or in
 * a one-line report: control characters, C1 codes (0x9B is a CSI on some terminals), line and
 * paragraph separators and bidi overrides become visible escapes, so they can neither move the
 * cursor, recolour the screen nor start a line that looks like one of ours. Backslash is
 * escaped too, so a user id that spells "\x1b" cannot pass for an escaped one.
 */

/** What a terminal may act on beyond C0: DEL, C1, the bidi marks and overrides, U+2028/2029, BOM. */
const BEYOND_C0 = "\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069\\ufeff";
const UNPRINTABLE = new RegExp(`[\\\\\\x00-\\x1f${BEYOND_C0}]`, "g");
const RAW_IN_JSON = new RegExp(`[${BEYOND_C0}]`, "g"); // JSON.stringify escapes C0 itself

const NAMED: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

const hex = (c: string, digits: number) => c.charCodeAt(0).toString(16).padStart(digits, "0");

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => NAMED[c] ?? (c.charCodeAt(0) < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/** JSON for a terminal: the same value once parsed, with what JSON leaves raw written as \u escapes. */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(RAW_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}
