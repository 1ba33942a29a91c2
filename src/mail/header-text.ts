/**
 * Writing header values that must be 7-bit and safe: RFC 2047 encoding where needed,
 * folding under 78 octets, never a raw CR, LF or NUL inside a value.
 */
const PLAIN = /^[\x20-\x7e]*$/;

/** True when the text can stand in a header as it is: printable ASCII that no decoder misreads. */
export function isPlainText(text: string): boolean {
  return PLAIN.test(text) && !text.includes("=?") && !/\S{900}/.test(text);
}

/** An unstructured value (Subject): plain text stays plain, anything else becomes encoded-words. */
export function encodeUnstructured(text: string): string {
  return isPlainText(text) ? text : encodeWords(text);
}

/** Text per encoded-word: 30 octets make 40 base64 characters, a 52-character word with "=?UTF-8?B?" and "?=". */
const WORD_OCTETS = 30;

/**
 * RFC 2047 B encoded-words of UTF-8, separated by spaces (which decoders drop between encoded-
 * words), each holding whole characters only (RFC 2047 §5 (3)): never half a surrogate pair or
 * half a multi-octet sequence. Written here rather than taken from nodemailer, so that the
 * intake (sendmail's From, a qualified address's name) loads no SMTP library.
 */
export function encodeWords(text: string): string {
  const words: string[] = [];
  let chunk = "";
  for (const char of text) {
    // by code point
    if (chunk !== "" && Buffer.byteLength(chunk + char) > WORD_OCTETS) {
      words.push(chunk);
      chunk = "";
    }
    chunk += char;
  }
  if (chunk !== "" || words.length === 0) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, "utf8").toString("base64")}?=`).join(" ");
}

/**
 * "Name: value" folded at white space under 78 octets where it can be, with CRLF line ends. A
 * fold only ever inserts CRLF before a space, so unfolding gives the value back exactly. Never
 * right after a colon, and never between a display name and its "<address>" while the line
 * stays within RFC 5322's 998 octets: Claws Mail shows such a fold as a double space (RFC 5322
 * §2.2.3 prefers folding at higher-level breaks, and between encoded-words a fold is invisible).
 */
export function headerLine(name: string, value: string): string {
  const line = `${name}: ${value}`;
  const folded = fold(line, name.length + 2, false);
  return (folded.some((l) => l.length > 998) ? fold(line, name.length + 2, true) : folded).join("\r\n") + "\r\n";
}

const SOFT_LIMIT = 76;

/** Greedy folding at the spaces of `line` from index `from` on; `anywhere`: also before "<". */
function fold(line: string, from: number, anywhere: boolean): string[] {
  const lines: string[] = [];
  let start = 0;
  let lastBreak = -1;
  for (let i = line.indexOf(" ", from); i !== -1; i = line.indexOf(" ", i + 1)) {
    if (i - start > SOFT_LIMIT && lastBreak > start) {
      lines.push(line.slice(start, lastBreak));
      start = lastBreak;
    }
    // not after a space (a line ending in white space loses it to MTAs that trim lines), nor
    // after a colon ("HP-Outer: From: x" keeps its inner field name with its value)
    if (line[i - 1] !== " " && line[i - 1] !== ":" && (anywhere || line[i + 1] !== "<")) lastBreak = i;
  }
  if (line.length - start > SOFT_LIMIT && lastBreak > start) {
    lines.push(line.slice(start, lastBreak));
    start = lastBreak;
  }
  lines.push(line.slice(start));
  return lines;
}
