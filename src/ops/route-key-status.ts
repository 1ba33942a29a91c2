/** For every route: its usable keys and their expiry, or why it has none (keys check, doctor). */
import type { Config } from "../config/schema.js";
import { expiryOf, type Expiry } from "../crypto/key-expiry.js";
import { routeKeys } from "../crypto/keyring.js";

export interface RouteKeyStatus {
  label: string; // "route[0] ops@example.net"
  keys: Expiry[];
  problem?: string; // no usable key: why
}

export async function routeKeyStatus(config: Config, now: Date): Promise<RouteKeyStatus[]> {
  const rows: RouteKeyStatus[] = [];
  for (const [i, route] of config.routes.entries()) {
    const label = `route[${i}] ${route.to.join(", ")}`;
    try {
      const keys = await routeKeys(route, config.keysDir, now);
      rows.push({ label, keys: await Promise.all(keys.map((k) => expiryOf(k, now))) });
    } catch (err) {
      rows.push({ label, keys: [], problem: (err as Error).message });
    }
  }
  return rows;
}
