/**
 * Which local user is on the other end of a loopback TCP connection, as the kernel tells it:
 * the uid that owns the client's socket, from /proc/net/tcp and tcp6 (the table identd answers
 * from). A unix socket has SO_PEERCRED; a TCP socket has only this. The client cannot choose
 * what is found: the row is the kernel's, keyed by the connection's own four addresses.
 */
import { isIPv4, isIPv6 } from "node:net";
import { readFile } from "./fsp.js";

export interface Endpoint {
  address: string;
  port: number;
}

/**
 * The uids of loopback peers, looked up in batches: the kernel's tables cost about 1.5 ms to read
 * here however few sockets they hold (it walks every hash bucket), which at a few hundred
 * connections a second was a quarter of serve's time. Lookups asked for within `batchMs` share
 * one read, begun after all of them were asked for, so each of their rows is in it.
 */
export class LoopbackPeers {
  private batch?: Array<{ client: Endpoint; server: Endpoint; done: (uid: number | undefined) => void }>;

  constructor(
    private readonly batchMs = 10,
    private readonly procNet = "/proc/net",
  ) {}

  /** The uid owning `client`'s end of its connection to `server`; undefined when the kernel shows none (not Linux, not loopback, gone). */
  uidOf(client: Endpoint, server: Endpoint): Promise<number | undefined> {
    return new Promise((done) => {
      if (!this.batch) {
        this.batch = [];
        setTimeout(() => void this.readBatch(), this.batchMs);
      }
      this.batch.push({ client, server, done });
    });
  }

  private async readBatch(): Promise<void> {
    const batch = this.batch ?? [];
    this.batch = undefined; // asked for from now on: the next batch
    const tables = new Map<string, Promise<string>>();
    const table = (name: string) => {
      let text = tables.get(name);
      if (!text) tables.set(name, (text = readFile(`${this.procNet}/${name}`, "latin1").catch(() => "")));
      return text;
    };
    for (const { client, server, done } of batch) {
      let uid: number | undefined;
      for (const [name, want] of rows(client, server)) {
        uid = uidIn(await table(name), want);
        if (uid !== undefined) break;
      }
      done(uid);
    }
  }
}

/** The one lookup of a connection, read at once (tests, doctor). */
export function loopbackPeerUid(client: Endpoint, server: Endpoint, procNet = "/proc/net"): Promise<number | undefined> {
  return new LoopbackPeers(0, procNet).uidOf(client, server);
}

/** Which table holds the connection's row, under which "local remote" key. */
function rows(client: Endpoint, server: Endpoint): Array<[string, string]> {
  const pair = `${procAddress(client)} ${procAddress(server)}`;
  if (pair.includes("?")) return [];
  const v4 = isIPv4(plainV4(client.address)) && isIPv4(plainV4(server.address));
  return v4
    ? [
        ["tcp", pair],
        ["tcp6", mapped(pair)],
      ]
    : [["tcp6", pair]];
}

/** The uid column of the row for `want`; a table has a row for every socket (thousands in TIME_WAIT after a wave): search, don't split. */
function uidIn(table: string, want: string): number | undefined {
  const at = table.indexOf(` ${want} `);
  if (at < 0) return undefined;
  const end = table.indexOf("\n", at);
  const cols = table
    .slice(at, end < 0 ? undefined : end)
    .trim()
    .split(/\s+/); // local rem st tx:rx tr:when retrnsmt uid ...
  const uid = Number(cols[6]);
  return Number.isInteger(uid) && uid >= 0 ? uid : undefined;
}

/** "127.0.0.1" and port 2525 as the kernel writes them: "0100007F:09DD" (the address in host byte order; x86 and arm64 are little-endian). */
function procAddress({ address, port }: Endpoint): string {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const v4 = plainV4(address);
  if (isIPv4(v4)) return `${littleEndianWords(v4.split(".").map(Number))}:${portHex}`;
  if (isIPv6(address)) return `${littleEndianWords(ipv6Bytes(address))}:${portHex}`;
  return "?";
}

/** The same pair as an IPv4 client seen through an IPv6 socket (::ffff:127.0.0.1). */
function mapped(pair: string): string {
  return pair
    .split(" ")
    .map((a) => (a.length === 13 ? `0000000000000000FFFF0000${a}` : a))
    .join(" ");
}

function plainV4(address: string): string {
  return address.toLowerCase().startsWith("::ffff:") && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function littleEndianWords(bytes: number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    for (let j = 3; j >= 0; j--) out += bytes[i + j]!.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function ipv6Bytes(address: string): number[] {
  const [head, tail] = address.split("::") as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(":").filter((g) => g !== "") : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}
