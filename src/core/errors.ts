/**
 * The error every part of sealpost throws when it knows what went wrong.
 *
 * What may be shown (the enhanced status code and a short public text) is kept apart from
 * what is only for the log (the cause), because deliver's stderr ends up in the MTA's
 * bounce text and must never carry paths of secrets, config values or message content.
 */
import { Reason, isPermanent, statusOf, type Deferral } from "./outcome.js";

export type Permanence = "temporary" | "permanent";

export class SealpostError extends Error implements Deferral {
  readonly reason: Reason;
  readonly publicMessage: string;

  constructor(reason: Reason, publicMessage: string, options: { cause?: unknown } = {}) {
    super(publicMessage, { cause: options.cause });
    this.name = "SealpostError";
    this.reason = reason;
    this.publicMessage = publicMessage;
  }

  /** Its enhanced status code, from the outcome table. */
  get status(): string {
    return statusOf(this.reason);
  }

  /** Only the table's 5.x.x reasons are for good; anything else, the unknown included, is temporary. */
  get permanence(): Permanence {
    return isPermanent(this.reason) ? "permanent" : "temporary";
  }
}

/** errno codes in words, for one-line messages: the one place sealpost reads them. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: "not found",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  ELOOP: "a symbolic link",
  EROFS: "read-only file system",
  ENOSPC: "no space left",
  EDQUOT: "over the disk quota",
};

export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A .catch() handler for an absence that is fine: the errno codes named give `value`, anything else is thrown on. */
export function whenErrno<T>(value: T, ...codes: string[]): (err: unknown) => T {
  return (err) => {
    const code = errnoOf(err);
    if (code !== undefined && codes.includes(code)) return value;
    throw err;
  };
}

/** What went wrong with a file, in words when there are some ("not found"), else its code. */
export function errnoWords(err: unknown): string {
  const code = errnoOf(err);
  return (code && ERRNO_WORDS[code]) ?? code ?? "unreadable";
}

/** The disk (or the user's quota on it) is full: 4.3.1, which serve answers 452. */
export function isStorageFull(err: unknown): boolean {
  const code = errnoOf(err);
  return code === "ENOSPC" || code === "EDQUOT";
}

/** Any thrown value as a SealpostError; what we did not foresee is a temporary internal error. */
export function asSealpostError(err: unknown): SealpostError {
  if (err instanceof SealpostError) return err;
  const code = errnoOf(err);
  if (isStorageFull(err)) return new SealpostError(Reason.storageFull, "no space left to store the message", { cause: err });
  if (code === "EACCES" || code === "EPERM") {
    // typically a pipe run as the wrong user (Postfix's default_privs): say where to look
    return new SealpostError(
      Reason.storage,
      "permission denied on sealpost's spool or store (run as the wrong user? see sealpost doctor)",
      { cause: err },
    );
  }
  if (code === "EROFS") return new SealpostError(Reason.storage, "sealpost's spool or store is on a read-only file system", { cause: err });
  return new SealpostError(Reason.internal, "internal error", { cause: err });
}
