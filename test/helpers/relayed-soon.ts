/** Waiting for what a runner relays in its own time. */
import { setTimeout as sleep } from "node:timers/promises";

/**
 * What `relayed()` holds once it holds `count` messages, or at `timeoutMs`. The bound is generous:
 * it is only reached when a test fails, and a loaded CI machine can take seconds to start a runner.
 */
export async function relayedSoon(relayed: () => Buffer[], count: number, timeoutMs = 60_000): Promise<Buffer[]> {
  for (const end = Date.now() + timeoutMs; relayed().length < count && Date.now() < end;) await sleep(50);
  return relayed();
}
