/** Header fields as found in the raw header section; parsed only to look things up. */
import { decodeWords } from "postal-mime";
import { startsField, toCrlf } from "./raw-message.js";

export interface HeaderField {
  name: string;
  lname: string;
  /** The whole field as it arrived, with its folding and final line end. */
  raw: Buffer;
  /** Unfolded value, leading and trailing white space removed; 8-bit bytes read as UTF-8. */
  value: string;
  /**
   * The value up to its first stray line (a line that is neither a field nor a continuation):
   * what is surely header. That a stray line belongs to the header is a guess, and a guess
   * never goes outside the encryption, so outer fields are made from this.
   */
  sureValue: string;
}

/**
 * The fields of a header section as splitHeaderBody found it. A line that is neither a field nor
 * a continuation (a stray line splitHeaderBody kept) continues the field before it; its value
 * joins without a space, as the wrapped text was one before a relay broke it.
 */
export function parseHeader(header: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let start = 0;
  let pos = 0;
  while (pos < header.length) {
    const nl = header.indexOf(0x0a, pos);
    const next = nl === -1 ? header.length : nl + 1;
    if (next >= header.length || startsField(header, next)) {
      const raw = header.subarray(start, next);
      const text = raw.toString("utf8");
      const colon = text.indexOf(":");
      if (colon > 0 && startsField(header, start)) {
        const name = text.slice(0, colon).trimEnd();
        const unfold = (v: string) =>
          v
            .replace(/\r?\n(?=[ \t])/g, "")
            .replace(/\r?\n$/, "")
            .replace(/\r?\n/g, "")
            .trim();
        const value = unfold(text.slice(colon + 1));
        const stray = /\n(?![ \t]|$)/.exec(text);
        fields.push({
          name,
          lname: name.toLowerCase(),
          raw,
          value,
          sureValue: stray ? unfold(text.slice(colon + 1, stray.index + 1)) : value,
        });
      }
      start = next;
    }
    pos = next;
  }
  return fields;
}

/**
 * The field as it goes into a sealed copy, well-formed for any client: CRLF line ends, no white
 * space between name and colon (mutt ignores "FROM : x"), and a stray line indented as the
 * continuation it is. The local copy keeps the raw bytes.
 */
export function wellFormed(field: HeaderField): Buffer {
  const text = toCrlf(field.raw)
    .toString("latin1")
    .replace(/^([^:]*?)[ \t]+:/, "$1:")
    .replace(/\r\n(?=[^ \t])/g, "\r\n ");
  return Buffer.from(text.endsWith("\r\n") ? text : text + "\r\n", "latin1");
}

export function firstValue(fields: readonly HeaderField[], name: string): string | undefined {
  const lname = name.toLowerCase();
  return fields.find((f) => f.lname === lname)?.value;
}

/** firstValue as far as it is surely header (HeaderField.sureValue): for anything shown outside the encryption. */
export function firstSureValue(fields: readonly HeaderField[], name: string): string | undefined {
  const lname = name.toLowerCase();
  return fields.find((f) => f.lname === lname)?.sureValue;
}

/** RFC 2047 decoding of an unstructured value such as Subject. */
export function decodeText(value: string): string {
  try {
    return decodeWords(value);
  } catch {
    return value; // an invalid encoded-word reads as the text it is
  }
}
