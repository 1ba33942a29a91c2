/**
 * What the spool could not be told, remembered for the passes after in the same process (a
 * runner's, serve's): recipients whose 250 could not be recorded, and entries whose failure could
 * not be saved. Both happen on a full or failing disk under the spool. Without this memory the
 * entry is due on disk as it was, and the next pass relays the same message again at once: a
 * full spool made hundreds of copies a second. The memory lasts as long as the process; a new
 * runner goes by what the disk says, which costs at most one more copy of such a recipient (the
 * window after a 250 that docs/contract.md §5 describes).
 */
export class Unsaved {
  private readonly relayed = new Map<string, Set<string>>();
  private readonly notBefore = new Map<string, number>();

  /** `recipient` has its 250 for entry `id`, though the entry still names it. */
  relayedTo(id: string, recipient: string): void {
    const known = this.relayed.get(id) ?? new Set<string>();
    known.add(recipient);
    this.relayed.set(id, known);
  }

  /** The entry's recipients but those with their 250 and no record of it. */
  stillToGo(entry: { id: string; recipients: readonly string[] }): string[] {
    const relayed = this.relayed.get(entry.id);
    return relayed ? entry.recipients.filter((r) => !relayed.has(r)) : [...entry.recipients];
  }

  /** Entry `id` failed and its backoff could not be saved: not tried again before `untilMs`. */
  holdOff(id: string, untilMs: number): void {
    this.notBefore.set(id, untilMs);
  }

  /** Until when entry `id` waits on a backoff only this memory knows of (a past time: it does not). */
  until(id: string): number | undefined {
    return this.notBefore.get(id);
  }

  /** Whether entry `id` waits on a backoff only this memory knows of. */
  waiting(id: string, nowMs: number): boolean {
    const until = this.notBefore.get(id);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.notBefore.delete(id);
    return false;
  }

  /** The disk knows again what this memory held for `id` (the entry saved or removed). */
  forget(id: string): void {
    this.relayed.delete(id);
    this.notBefore.delete(id);
  }
}
