/**
 * The error every part of sealpost throws when it knows what went wrong.
 *
 * What may be shown (the enhanced status code and a short public text) is kept apart from
 * what is only for the log (the cause), because deliver's stderr ends up in the MTA's
 * bounce text and must never carry paths of secrets, config values or message content.
 */
export type Permanence = "temporary" | "permanent";

export class SealpostError extends Error {
  readonly status: string;
  readonly permanence: Permanence;
  readonly publicMessage: string;

  constructor(status: string, publicMessage: string, options: { cause?: unknown; permanence?: Permanence } = {}) {
    super(publicMessage, { cause: options.cause });
    this.name = "SealpostError";
    this.status = status;
    this.publicMessage = publicMessage;
    // Unknown means temporary: only a caller that knows better says "permanent".
    this.permanence = options.permanence ?? "temporary";
  }
}

/** Enhanced status codes (RFC 3463) used by sealpost, named for what they mean here. */
export const Status = {
  internal: "4.3.0",
  config: "4.3.5",
  storage: "4.3.0",
  storageFull: "4.3.1",
  busy: "4.3.2",
  noKey: "4.7.1",
  sealing: "4.7.0",
  relay: "4.4.1",
  relayRefused: "5.0.0",
  usage: "4.5.0",
  overQuota: "4.7.0", // a local user past spool.per_user_*_per_hour: serve answers 451
  tooBig: "5.3.4", // over max_size or the header limit: serve answers 552, the pipe commands 75 (4.3.4)
} as const;

/** Any thrown value as a SealpostError; what we did not foresee is a temporary internal error. */
export function asSealpostError(err: unknown): SealpostError {
  if (err instanceof SealpostError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new SealpostError(Status.storageFull, "no space left to store the message", { cause: err });
  }
  if (code === "EACCES" || code === "EPERM") {
    // typically a pipe run as the wrong user (Postfix's default_privs): say where to look
    return new SealpostError(Status.storage, "permission denied on sealpost's spool or store (run as the wrong user? see sealpost doctor)", { cause: err });
  }
  if (code === "EROFS") return new SealpostError(Status.storage, "sealpost's spool or store is on a read-only file system", { cause: err });
  return new SealpostError(Status.internal, "internal error", { cause: err });
}
