import type * as Net from "node:net";
import { lazy } from "../core/builtin.js";

const net = lazy<typeof Net>("node:net");
let loopback: Net.BlockList | undefined;

/** 127.a.b.c and ::1 as they are nearly always written: known without loading node:net (every config load checks serve.listen). */
const PLAIN_LOOPBACK = /^(?:127\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){2}|::1)$/;

/**
 * True for an IP address that can only be this machine: 127.0.0.0/8 and ::1, in any spelling.
 * A name is never loopback by its spelling ("x.localhost" is whatever DNS or /etc/hosts make
 * of it): resolve it and check every address (src/relay/relay.ts does, for the relay).
 */
export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, "");
  if (PLAIN_LOOPBACK.test(a)) return true;
  const family = ipFamily(a);
  if (family === 0) return false;
  if (!loopback) {
    loopback = new (net().BlockList)();
    loopback.addSubnet("127.0.0.0", 8, "ipv4"); // also matches 127.x written as ::ffff:127.x
    loopback.addAddress("::1", "ipv6");
  }
  return loopback.check(a, family === 4 ? "ipv4" : "ipv6");
}

/** 4 or 6 for an IP address, 0 for anything else (a host name needs no node:net to be told apart). */
export function ipFamily(text: string): 0 | 4 | 6 {
  const a = text.replace(/^\[|\]$/g, "");
  if (!a.includes(":") && !/^\d{1,3}(?:\.\d{1,3}){3}$/.test(a)) return 0;
  return net().isIP(a) as 0 | 4 | 6;
}

/** serve.listen: a loopback address, or the name "localhost". */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === "localhost" || isLoopbackAddress(host);
}
