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

/** The uid owning `client`'s end of its connection to `server`; undefined when the kernel shows none (not Linux, not loopback, gone). */
export async function loopbackPeerUid(client: Endpoint, server: Endpoint, procNet = "/proc/net"): Promise<number | undefined> {
  const want = `${procAddress(client)} ${procAddress(server)}`;
  if (want.includes("?")) return undefined;
  const table = isIPv4(plainV4(client.address)) && isIPv4(plainV4(server.address)) ? ["tcp", "tcp6"] : ["tcp6"];
  for (const name of table) {
    const text = await readFile(`${procNet}/${name}`, "latin1").catch(() => "");
    for (const line of text.split("\n")) {
      // "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
      const cols = line.trim().split(/\s+/);
      if (cols.length < 8 || `${cols[1]} ${cols[2]}` !== want && `${cols[1]} ${cols[2]}` !== mapped(want)) continue;
      const uid = Number(cols[7]);
      return Number.isInteger(uid) && uid >= 0 ? uid : undefined;
    }
  }
  return undefined;
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
  return pair.split(" ").map((a) => (a.length === 13 ? `0000000000000000FFFF0000${a}` : a)).join(" ");
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
