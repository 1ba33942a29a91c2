/**
 * One thing at a time in a pass: sealing one message, or relaying one (its SMTP dialog and the
 * record of its 250). Everything else a pass does (reading entries, taking their locks, saving
 * them) still overlaps.
 *
 * Why: between a relay's final dot and the record of its 250 lies the one window where a killed
 * runner costs a second copy of a message (docs/contract.md §5). With entries sealed and relayed
 * side by side, a 250 waited, unread, while other entries were sealed on the same event loop, and
 * several messages were in that window at once: one kill then cost a copy of each. Measured by
 * the chaos test on a 2-core machine: about 3.5 % of runner kills relayed a message twice with
 * eight entries sealed and relayed at once; 3 % with sealing kept apart but relays side by side;
 * 0.4 % one at a time. The price is a relay far away: its round trips are no longer overlapped
 * (README, "Throughput"). To a relay on this host, the usual one, a dialog takes about a
 * millisecond and sealing is what takes the time.
 */
export class Turns {
  private busy = false;
  private readonly waiting: Array<() => void> = [];

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((go) => this.waiting.push(go));
    else this.busy = true;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy = false;
    }
  }
}

/** No turns to take: deliver's inline relay seals and sends one message, alone. */
export const ALONE: Pick<Turns, "run"> = { run: (fn) => fn() };
