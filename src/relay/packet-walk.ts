/**
 * Walks the OpenPGP packets of a sealed message as their bytes go by, holding none but the
 * small session-key packets: what egress needs to know of a 25 MB message without keeping it.
 * Accepted: PKESK v3 packets to the route's key ids, then exactly one SEIPD v1 packet, then
 * nothing. New-format packet headers only, which is what openpgp writes (RFC 9580 4.2).
 */
const PKESK = 1;
const SEIPD = 18;
const MAX_PKESK = 4096;

export class PacketWalk {
  recipients = 0;
  private state: "header" | "length" | "pkesk" | "seipd" | "done" = "header";
  private head: number[] = [];
  private tag = 0;
  private left = 0; // bytes left in the current body chunk
  private partial = false;
  private seipdStarted = false;
  private pkesk: number[] = [];

  constructor(
    private readonly keyIds: ReadonlySet<string>,
    private readonly refuse: (why: string) => never,
  ) {}

  feed(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.state === "done") this.refuse("data after the encrypted packet");
      if (this.state === "header" || this.state === "length") {
        this.head.push(bytes[i++]!);
        this.readHead();
        continue;
      }
      const take = Math.min(this.left, bytes.length - i);
      if (this.state === "pkesk") this.pkesk.push(...bytes.subarray(i, i + take));
      else if (!this.seipdStarted && take > 0) {
        if (bytes[i] !== 1) this.refuse("not SEIPD v1");
        this.seipdStarted = true;
      }
      i += take;
      this.left -= take;
      if (this.left === 0) this.endOfChunk();
    }
  }

  /** Whether the next `n` bytes are all ciphertext within the current chunk (nothing to read in them). */
  canSkip(n: number): boolean {
    return this.state === "seipd" && this.seipdStarted && n < this.left;
  }

  skip(n: number): void {
    this.left -= n;
  }

  /** Called at the end of the armor: the packets must be complete. */
  finish(): void {
    if (this.state !== "done" || this.recipients === 0) this.refuse("no encrypted data for the route's keys");
  }

  private readHead(): void {
    const h = this.head;
    let at = 0;
    if (this.state === "header") {
      if ((h[0]! & 0xc0) !== 0xc0) this.refuse("unexpected OpenPGP packet format");
      this.tag = h[0]! & 0x3f;
      if (this.tag !== PKESK && this.tag !== SEIPD) this.refuse(`unexpected OpenPGP packet ${this.tag}`);
      if (this.tag === PKESK && this.seipdStarted) this.refuse("session key after the encrypted data");
      at = 1;
    }
    if (h.length <= at) return;
    const first = h[at]!;
    let length: number;
    this.partial = false;
    if (first < 192) length = first;
    else if (first < 224) {
      if (h.length < at + 2) return;
      length = ((first - 192) << 8) + h[at + 1]! + 192;
    } else if (first === 255) {
      if (h.length < at + 5) return;
      length = ((h[at + 1]! << 24) >>> 0) + (h[at + 2]! << 16) + (h[at + 3]! << 8) + h[at + 4]!;
    } else {
      length = 1 << (first & 0x1f);
      this.partial = true;
    }
    this.head = [];
    if (this.tag === PKESK && (this.partial || length > MAX_PKESK)) this.refuse("malformed session key packet");
    if (this.tag === SEIPD && this.state === "header" && this.seipdStarted) this.refuse("a second encrypted packet");
    this.left = length;
    this.state = this.tag === PKESK ? "pkesk" : "seipd";
    if (length === 0) this.endOfChunk();
  }

  private endOfChunk(): void {
    if (this.partial) {
      this.state = "length";
      return;
    }
    if (this.tag === SEIPD) {
      if (!this.seipdStarted) this.refuse("empty encrypted packet");
      this.state = "done";
      return;
    }
    this.checkPkesk(this.pkesk);
    this.pkesk = [];
    this.state = "header";
  }

  private checkPkesk(body: number[]): void {
    const keyId = Buffer.from(body.slice(1, 9)).toString("hex");
    if (body.length < 10 || body[0] !== 3 || /^0+$/.test(keyId) || !this.keyIds.has(keyId)) this.refuse("session key for another key");
    this.recipients++;
  }
}
