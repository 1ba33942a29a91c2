/**
 * What a revocation taken in by `keys import` stops: the routes that sealed to the key, whether
 * any usable key is left for them, and root's one local notice about it (written by the
 * import, so it comes once, not with every message that then waits).
 */
import type { Config } from "../config/schema.js";
import { printable } from "../core/printable.js";
import { resolveHostname } from "../core/hostname.js";
import type { KeyInfo } from "../crypto/key-check.js";
import { writeNotice } from "../store/notice.js";
import { routeKeyStatus } from "./route-key-status.js";
import { EX_TEMPFAIL } from "../core/outcome.js";

export interface AffectedRoute {
  label: string; // "route[0] ops@example.net"
  /** No usable key is left: the route's mail waits (deliver answers EX_TEMPFAIL, the spool retries). */
  waits: boolean;
}

/** The routes that used the key: pinned in keys or also_encrypt_to, or found by its user ids. */
export async function routesUsingKey(config: Config, info: Pick<KeyInfo, "fingerprint" | "emails">, now: Date): Promise<AffectedRoute[]> {
  const status = await routeKeyStatus(config, now);
  return config.routes.flatMap((route, i) => {
    const pinned = route.keys && route.keys.length > 0;
    const uses =
      (route.alsoEncryptTo ?? []).includes(info.fingerprint) ||
      (pinned ? route.keys!.includes(info.fingerprint) : route.to.some((to) => info.emails.includes(to.toLowerCase())));
    return uses ? [{ label: status[i]!.label, waits: status[i]!.problem !== undefined }] : [];
  });
}

function revocationText(info: Pick<KeyInfo, "revoked">): string {
  const what = info.revoked?.part === "encryption subkey" ? "its encryption subkey is revoked" : "revoked";
  return info.revoked?.reason ? `${what} (${printable(info.revoked.reason)})` : what;
}

export async function noticeRevokedKey(config: Config, info: KeyInfo, routes: AffectedRoute[], now: Date): Promise<void> {
  const who = info.userIds.map(printable).join(", ") || "(no user id)";
  await writeNotice(
    config.local,
    resolveHostname(config.hostname),
    `key ${info.fingerprint} was revoked`,
    [
      `The key ${info.fingerprint} (${who}) was revoked by its owner: ${revocationText(info)}.`,
      "The revocation was imported with `sealpost keys import`; sealpost no longer seals to this key.",
      "",
      ...(routes.length === 0
        ? ["No route uses it."]
        : [
            "Routes that used it:",
            ...routes.map(
              (r) =>
                `  ${r.label}: ${r.waits ? `no usable key is left; its mail waits (deliver answers ${EX_TEMPFAIL}, the spool retries, then holds)` : "still sealed to its other keys"}`,
            ),
          ]),
      "",
      "Get the recipient's new public key, then:",
      "",
      `  sealpost keys import --replace ${info.fingerprint} NEW.asc`,
      "  sealpost keys check",
    ],
    now,
  );
}
