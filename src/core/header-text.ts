/**
 * Writing header values that must be 7-bit and safe: RFC 2047 encoding where needed,
 * folding under 78 octets, never a raw CR, LF or NUL inside a value.
 */
import * as mimeFuncs from "nodemailer/lib/mime-funcs";

const PLAIN = /^[\x20-\x7e]*$/;

/** True when the text can stand in a header as it is: printable ASCII that no decoder misreads. */
export function isPlainText(text: string): boolean {
  return PLAIN.test(text) && !text.includes("=?") && !/\S{900}/.test(text);
}

/** An unstructured value (Subject): plain text stays plain, anything else becomes encoded-words. */
export function encodeUnstructured(text: string): string {
  return isPlainText(text) ? text : mimeFuncs.encodeWord(text, "B", 52);
}

/** "Name: value" folded at white space, with CRLF line ends. */
export function headerLine(name: string, value: string): string {
  return mimeFuncs.foldLines(`${name}: ${value}`, 76).replace(/\r?\n(?!$)/g, "\r\n") + "\r\n";
}
