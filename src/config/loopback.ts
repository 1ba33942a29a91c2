import { BlockList, isIP } from "node:net";

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4"); // also matches 127.x written as ::ffff:127.x
LOOPBACK.addAddress("::1", "ipv6");

/**
 * True for an IP address that can only be this machine: 127.0.0.0/8 and ::1, in any spelling.
 * A name is never loopback by its spelling ("x.localhost" is whatever DNS or /etc/hosts make
 * of it): resolve it and check every address (src/relay/relay.ts does, for the relay).
 */
export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, "");
  const family = isIP(a);
  return family !== 0 && LOOPBACK.check(a, family === 4 ? "ipv4" : "ipv6");
}

/** serve.listen: a loopback address, or the name "localhost". */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === "localhost" || isLoopbackAddress(host);
}
