/**
 * Text from outside (a key's user id, a server's error) made safe to print on a terminal or in
 * a one-line report: control characters, C1 codes (0x9B is a CSI on some terminals), line and
 * paragraph separators and bidi overrides become visible escapes, so they can neither move the
 * cursor, recolour the screen nor start a line that looks like one of ours. Backslash is
 * escaped too, so a user id that spells "\x1b" cannot pass for an escaped one.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => NAMED[c] ?? escapeCode(c.charCodeAt(0)));
}

function escapeCode(code: number): string {
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * JSON for a terminal: the same value once parsed, with what JSON leaves raw (C1 codes, line
 * separators, bidi overrides) written as \u escapes too.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, (c) => escapeCode(c.charCodeAt(0)).replace(/^\\x/, "\\u00"));
}
