/**
 * An original that is already encrypted, told from its MIME structure only (docs/contract.md §4): a top-level
 * Content-Type of multipart/encrypted. Never from text in the body, which anyone can write.
 * For PGP/MIME (RFC 3156) it also reads, for the note sealpost adds, to which key IDs the
 * original is encrypted: the PKESK packets at the start of the armored second part.
 */
import { firstValue, type HeaderField } from "../mail/header.js";
import { contentType } from "./mime-part.js";

export interface AlreadyEncrypted {
  /** True for RFC 3156 PGP/MIME (protocol application/pgp-encrypted). */
  openpgp: boolean;
  /** Key IDs as GnuPG shows them ("0xF998DB0BD7E4EBB2"), "anonymous" for a hidden recipient; empty when unreadable. */
  keyIds: string[];
}

/** Only the first packets matter, and a PKESK is under 1 KB: never decode more than this much armor, */
const MAX_ARMOR_CHARS = 16 * 1024;
/** ... nor look for it further into the body (the first part is "Version: 1"). */
const MAX_SCAN = 64 * 1024;
const MAX_KEY_IDS = 32;
const PKESK = 1;

export function alreadyEncrypted(fields: readonly HeaderField[], body: Buffer): AlreadyEncrypted | undefined {
  const { type, params } = contentType(firstValue(fields, "content-type") ?? "");
  if (type !== "multipart/encrypted") return undefined;
  const openpgp = (params.get("protocol") ?? "").toLowerCase() === "application/pgp-encrypted";
  const boundary = params.get("boundary");
  const armor = openpgp && boundary ? armorOfSecondPart(body, boundary) : undefined;
  return { openpgp, keyIds: armor ? pkeskKeyIds(armor) : [] };
}

/** The base64 data of the armored message in the second body part (RFC 3156 §4), as bytes. */
function armorOfSecondPart(body: Buffer, boundary: string): Buffer | undefined {
  const lines = body.toString("latin1", 0, Math.min(body.length, MAX_SCAN)).split(/\r?\n/);
  const delimiter = `--${boundary}`;
  let part = 0;
  let state: "outside" | "header" | "content" | "armor-header" | "data" = "outside";
  let data = "";
  for (const line of lines) {
    if (line.startsWith(delimiter) && /^[ \t]*$/.test(line.slice(delimiter.length).replace(/^--/, ""))) {
      if (state === "data" || part >= 2) break;
      part++;
      state = part === 2 ? "header" : "outside";
      continue;
    }
    if (state === "header") {
      if (line === "") state = "content";
    } else if (state === "content") {
      if (line.trim() === "-----BEGIN PGP MESSAGE-----") state = "armor-header";
    } else if (state === "armor-header") {
      if (line.trim() === "") state = "data";
    } else if (state === "data") {
      if (line.startsWith("=") || line.startsWith("-")) break;
      data += line.trim();
      if (data.length >= MAX_ARMOR_CHARS) break;
    }
  }
  return data === "" ? undefined : Buffer.from(data.slice(0, MAX_ARMOR_CHARS - (MAX_ARMOR_CHARS % 4)), "base64");
}

/**
 * The recipients' key IDs of the PKESK packets (RFC 9580 §5.1) that open `packets`: old- and
 * new-format packet headers, v3 (key ID) and v6 (fingerprint) packets. Stops at the first
 * other packet, or where the bytes run out.
 */
export function pkeskKeyIds(packets: Buffer): string[] {
  const ids: string[] = [];
  let pos = 0;
  while (pos < packets.length && ids.length < MAX_KEY_IDS) {
    const head = readPacketHeader(packets, pos);
    if (!head || head.tag !== PKESK || head.start + head.length > packets.length) break;
    const body = packets.subarray(head.start, head.start + head.length);
    if (body[0] === 3 && body.length >= 9) ids.push(keyIdText(body.subarray(1, 9)));
    else if (body[0] === 6 && body.length >= 2) ids.push(body[1] === 0 ? "anonymous" : keyIdText(body.subarray(3, 2 + body[1]!)));
    pos = head.start + head.length;
  }
  return ids;
}

function keyIdText(id: Buffer): string {
  return /^(00)+$/.test(id.toString("hex")) ? "anonymous" : `0x${id.toString("hex").toUpperCase()}`;
}

/** A packet's tag and body position; undefined for what a PKESK never has (partial lengths) or truncation. */
function readPacketHeader(b: Buffer, pos: number): { tag: number; start: number; length: number } | undefined {
  const first = b[pos]!;
  if ((first & 0x80) === 0) return undefined;
  const need = (n: number) => pos + n <= b.length;
  if (first & 0x40) {
    // new format
    const tag = first & 0x3f;
    if (!need(2)) return undefined;
    const l0 = b[pos + 1]!;
    if (l0 < 192) return { tag, start: pos + 2, length: l0 };
    if (l0 < 224) return need(3) ? { tag, start: pos + 3, length: ((l0 - 192) << 8) + b[pos + 2]! + 192 } : undefined;
    if (l0 === 255) return need(6) ? { tag, start: pos + 6, length: b.readUInt32BE(pos + 2) } : undefined;
    return undefined;
  }
  const tag = (first >> 2) & 0x0f; // old format: the length type in the low two bits
  switch (first & 0x03) {
    case 0:
      return need(2) ? { tag, start: pos + 2, length: b[pos + 1]! } : undefined;
    case 1:
      return need(3) ? { tag, start: pos + 3, length: b.readUInt16BE(pos + 1) } : undefined;
    case 2:
      return need(5) ? { tag, start: pos + 5, length: b.readUInt32BE(pos + 1) } : undefined;
    default:
      return undefined;
  }
}
