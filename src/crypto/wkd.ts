/**
 * Web Key Directory lookup (draft-koch-openpgp-webkey-service): the advanced method
 * (https://openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH?l=LOCAL), and the direct
 * method (https://DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL) only when the openpgpkey
 * subdomain does not exist. HTTPS with certificate verification, no redirects, a size cap.
 */
import { createHash } from "node:crypto";
import type { LookupFunction } from "node:net";
import { request } from "node:https";

const MAX_BYTES = 512 * 1024;
const TIMEOUT_MS = 15_000;

export interface WkdOptions {
  /** Where to connect for a host name (tests: a loopback server); certificates are still checked against the name. */
  connectTo?: (host: string) => { address: string; port: number } | undefined;
}

export class WkdError extends Error {}

/** z-base-32 (RFC 6189 §5.1.6), as WKD names its files. */
export function zbase32(data: Uint8Array): string {
  const alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

export function wkdUrls(email: string): { advanced: URL; direct: URL } {
  const at = email.lastIndexOf("@");
  if (at <= 0 || at === email.length - 1) throw new WkdError(`not an e-mail address: ${email}`);
  const local = email.slice(0, at);
  const domain = email.slice(at + 1).toLowerCase();
  const hash = zbase32(createHash("sha1").update(local.toLowerCase()).digest());
  const l = encodeURIComponent(local);
  return {
    advanced: new URL(`https://openpgpkey.${domain}/.well-known/openpgpkey/${domain}/hu/${hash}?l=${l}`),
    direct: new URL(`https://${domain}/.well-known/openpgpkey/hu/${hash}?l=${l}`),
  };
}

/** The key data the recipient's domain publishes for `email`, and the URL it came from. */
export async function fetchWkd(email: string, options: WkdOptions = {}): Promise<{ data: Buffer; url: string }> {
  const { advanced, direct } = wkdUrls(email);
  try {
    return { data: await get(advanced, options), url: advanced.href };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOTFOUND") throw describe(err, advanced);
  }
  try {
    return { data: await get(direct, options), url: direct.href };
  } catch (err) {
    throw describe(err, direct);
  }
}

function describe(err: unknown, url: URL): WkdError {
  if (err instanceof WkdError) return err;
  const e = err as NodeJS.ErrnoException;
  return new WkdError(`${url.host}: ${e.code === "ENOTFOUND" ? "no such host" : e.message.split("\n")[0]}`);
}

function get(url: URL, options: WkdOptions): Promise<Buffer> {
  const target = options.connectTo?.(url.hostname);
  const lookup: LookupFunction | undefined = target
    ? (_host, opts, cb) => (opts as { all?: boolean }).all ? (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: target.address, family: 4 }]) : cb(null, target.address, 4)
    : options.connectTo ? (host, _opts, cb) => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" }), "", 4) : undefined;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      port: target?.port ?? 443, servername: url.hostname, lookup, timeout: TIMEOUT_MS, rejectUnauthorized: true, minVersion: "TLSv1.2",
      headers: { accept: "application/octet-stream" },
    }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new WkdError(`${url.host}: HTTP ${res.statusCode} (no key published for this address)`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) req.destroy(new WkdError(`${url.host}: answer larger than ${MAX_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on("end", () => resolve(Buffer.concat(chunks)));
    });
    req.on("timeout", () => req.destroy(new WkdError(`${url.host}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}
