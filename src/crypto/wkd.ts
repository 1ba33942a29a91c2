/**
 * Web Key Directory lookup (draft-koch-openpgp-webkey-service): the advanced method
 * (https://openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH?l=LOCAL), and the direct
 * method (https://DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL) only when the openpgpkey
 * subdomain does not exist. HTTPS with certificate verification, no redirects, a size cap, an
 * idle timeout and a deadline for the whole fetch: a server that drips a byte now and then is
 * never idle, and would otherwise hold `keys fetch` forever.
 */
import { createHash } from "node:crypto";
import type { LookupFunction } from "node:net";
import { request } from "node:https";
import { errnoOf } from "../core/errors.js";

const MAX_BYTES = 512 * 1024;
const IDLE_MS = 15_000;
/** Both methods together; a real WKD server answers within a second or two. */
const DEADLINE_MS = 20_000;

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
      out += alphabet.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet.charAt((value << (5 - bits)) & 31);
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
  const deadline = Date.now() + DEADLINE_MS;
  try {
    return { data: await get(advanced, options, deadline), url: advanced.href };
  } catch (err) {
    if (errnoOf(err) !== "ENOTFOUND") throw describe(err, advanced);
  }
  try {
    return { data: await get(direct, options, deadline), url: direct.href };
  } catch (err) {
    throw describe(err, direct);
  }
}

function describe(err: unknown, url: URL): WkdError {
  if (err instanceof WkdError) return err;
  return new WkdError(
    `${url.host}: ${errnoOf(err) === "ENOTFOUND" ? "no such host" : (err instanceof Error ? err.message : String(err)).split("\n")[0]}`,
  );
}

function get(url: URL, options: WkdOptions, deadline: number): Promise<Buffer> {
  const target = options.connectTo?.(url.hostname);
  const lookup: LookupFunction | undefined = target
    ? (_host, opts, cb) =>
        (opts as { all?: boolean }).all
          ? (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
              { address: target.address, family: 4 },
            ])
          : cb(null, target.address, 4)
    : options.connectTo
      ? (host, _opts, cb) => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" }), "", 4)
      : undefined;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, data?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(overall); // (declared below, set before any callback can run)
      if (err) reject(err);
      else resolve(data!);
    };
    const fail = (err: WkdError) => {
      settle(err);
      req.destroy(err);
    };
    const req = request(
      url,
      {
        port: target?.port ?? 443,
        servername: url.hostname,
        lookup,
        timeout: IDLE_MS,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        headers: { accept: "application/octet-stream" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          settle(new WkdError(`${url.host}: HTTP ${String(res.statusCode)} (no key published for this address)`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_BYTES) fail(new WkdError(`${url.host}: answer larger than ${MAX_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on("end", () => settle(undefined, Buffer.concat(chunks)));
        res.on("error", (err) => settle(err));
      },
    );
    // The whole exchange, from the lookup to the last byte: the idle timeout alone is reset by
    // every byte, so a server that drips one every few seconds would hold the fetch forever.
    const overall = setTimeout(
      () => fail(new WkdError(`${url.host}: no complete answer within ${DEADLINE_MS / 1000} s`)),
      Math.max(0, deadline - Date.now()),
    );
    req.on("timeout", () => fail(new WkdError(`${url.host}: timed out`)));
    req.on("error", (err) => settle(err));
    req.on("close", () => settle(new WkdError(`${url.host}: the connection closed before the answer was complete`)));
    req.end();
  });
}
