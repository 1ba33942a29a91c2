/**
 * The spool runner inside `serve` (SPEC §5): a pass after each accepted message and every few
 * seconds, one pass at a time, all through one pool of relay connections.
 */
import type { Config } from "../config/schema.js";
import { resolveHostname } from "../core/hostname.js";
import { QUEUE_CONCURRENCY, runQueue } from "../core/queue-run.js";
import type { EventLog } from "../log/event-log.js";
import { Relay } from "../relay/relay.js";

const TICK_MS = 5_000;
const MAINTENANCE_MS = 3_600_000; // the spool's sweep: hourly is plenty (it removes only hour-old leftovers)

export class SpoolRunner {
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private lastMaintenance = 0;
  private readonly relay: Relay;

  constructor(private readonly config: Config, private readonly log: EventLog, private readonly onError: (err: unknown) => void) {
    this.relay = new Relay({ relay: config.relay, hostname: resolveHostname(config.hostname) }, QUEUE_CONCURRENCY);
  }

  start(): void {
    this.kick();
    this.timer = setInterval(() => this.kick(), TICK_MS);
  }

  /** Runs a pass now, or right after the one under way. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const maintenance = Date.now() - this.lastMaintenance >= MAINTENANCE_MS;
        if (maintenance) this.lastMaintenance = Date.now();
        await runQueue(this.config, { relay: this.relay, lockWaitMs: 0, maintenance, log: this.log }).catch(this.onError);
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops the timer and waits for the pass under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.again = false;
    await this.running;
    this.relay.close();
  }
}
