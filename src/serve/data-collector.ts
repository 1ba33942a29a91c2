/**
 * A message as it arrives in DATA, kept with LF line ends as the local store keeps them. The
 * conversion runs on each chunk as it comes (native indexOf and copies), so a 25 MB message never
 * becomes one string to be rewritten while other connections wait.
 *
 * Memory is bounded across connections: with thousands of connections allowed, each one in DATA
 * could otherwise hold max_size. All messages being received share one budget; a message that
 * would take it past the limit keeps nothing and is answered 452 (the client tries again later).
 */
const CR = 0x0d;
const LF = 0x0a;

export class MemoryBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Takes `bytes` if they fit. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

export type Collected = { kind: "message"; bytes: Buffer } | { kind: "over-budget" };

export class DataCollector {
  private readonly parts: Buffer[] = [];
  private length = 0;
  private held = 0; // what this message holds of the budget
  private pendingCr = false;
  private overBudget = false;

  constructor(private readonly budget: MemoryBudget) {}

  /** Keeps `chunk`, CRLF turned into LF; a CR at the chunk's end waits for the next byte. */
  add(chunk: Buffer): void {
    if (this.overBudget || chunk.length === 0) return;
    if (!this.budget.take(chunk.length)) {
      this.overBudget = true;
      this.release();
      return;
    }
    this.held += chunk.length;
    // One buffer out per chunk in: a message of a million short lines must not become a million parts.
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let o = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk[0] !== LF) out[o++] = CR;
    }
    let start = 0;
    for (let i = chunk.indexOf(CR); i !== -1; i = chunk.indexOf(CR, i + 1)) {
      if (i === chunk.length - 1) {
        o += chunk.copy(out, o, start, i);
        this.pendingCr = true;
        start = chunk.length;
        break;
      }
      if (chunk[i + 1] !== LF) continue; // a bare CR stays as it is
      o += chunk.copy(out, o, start, i);
      start = i + 1; // from the LF on
    }
    o += chunk.copy(out, o, start);
    this.push(out.subarray(0, o));
  }

  /** The whole message, or word that it did not fit. The budget stays held until release(). */
  finish(): Collected {
    if (this.overBudget) return { kind: "over-budget" };
    if (this.pendingCr) this.push(Buffer.from([CR]));
    this.pendingCr = false;
    const bytes = Buffer.concat(this.parts, this.length);
    this.parts.length = 0; // the chunks may go now; the message itself is what the budget holds
    return { kind: "message", bytes };
  }

  /** Gives back what this message held; call once it is committed, refused or abandoned. */
  release(): void {
    this.parts.length = 0;
    this.length = 0;
    this.budget.give(this.held);
    this.held = 0;
  }

  private push(part: Buffer): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.length += part.length;
  }
}
