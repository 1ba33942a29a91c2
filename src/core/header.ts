/** Header fields as found in the raw header section; parsed only to look things up. */
import { decodeWords } from "postal-mime";

export interface HeaderField {
  name: string;
  lname: string;
  /** The whole field as it arrived, with its folding and final line end. */
  raw: Buffer;
  /** Unfolded value, leading and trailing white space removed; 8-bit bytes read as UTF-8. */
  value: string;
}

export function parseHeader(header: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let start = 0;
  let pos = 0;
  while (pos < header.length) {
    const nl = header.indexOf(0x0a, pos);
    const next = nl === -1 ? header.length : nl + 1;
    const continues = next < header.length && (header[next] === 0x20 || header[next] === 0x09);
    if (!continues) {
      const raw = header.subarray(start, next);
      const text = raw.toString("utf8");
      const colon = text.indexOf(":");
      if (colon > 0) {
        const name = text.slice(0, colon).trimEnd();
        const value = text.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, "").replace(/\r?\n$/, "").trim();
        fields.push({ name, lname: name.toLowerCase(), raw, value });
      }
      start = next;
    }
    pos = next;
  }
  return fields;
}

export function firstValue(fields: readonly HeaderField[], name: string): string | undefined {
  const lname = name.toLowerCase();
  return fields.find((f) => f.lname === lname)?.value;
}

/** RFC 2047 decoding of an unstructured value such as Subject. */
export function decodeText(value: string): string {
  try {
    return decodeWords(value);
  } catch {
    return value; // an invalid encoded-word reads as the text it is
  }
}
