/**
 * One relay at a time in a pass: one message's SMTP dialog and the record of its 250, then the
 * next. Everything else a pass does (reading entries, taking their locks, sealing, saving) still
 * overlaps with it, except for a large message (pipeline/seal.ts STREAM_FROM), which is sealed as
 * it is relayed, so inside its turn. Not re-entrant: nothing in a turn may wait for another.
 *
 * Why: between a relay's final dot and the record of its 250 lies the one window where a killed
 * runner costs a second copy of a message (docs/contract.md §5). With eight relays side by side,
 * several messages were in that window at once, and one kill cost a copy of each. Sealing beside
 * the one relay costs its 250 at most one step of sealing (openpgp lets the event loop in every
 * few milliseconds). Measured by the chaos test on a 2-core machine, second copies per kill:
 * 4.1 % with eight relays at once, up to eight from one kill; 0.7 % one at a time, never more
 * than one. Making sealing wait for the relay as well did no better, and made serve's
 * end-to-end latency under load four times as long again.
 *
 * The price is a relay that is far away or slow to answer DATA (a milter before its queue): its
 * waits are no longer overlapped (README, "Performance"). To a relay on this host, the usual one,
 * a dialog takes a few milliseconds.
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

/** No turns to take: deliver's inline relay sends one message, alone. */
export const ALONE: Pick<Turns, "run"> = { run: (fn) => fn() };
