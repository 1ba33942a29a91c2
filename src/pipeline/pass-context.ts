/** What one spool pass carries to every entry and digest it works on: the send step's context and the failure policy's. */
import type { SealpostError } from "../core/errors.js";
import type { PolicyContext } from "./policy.js";
import type { SendContext } from "./send.js";

export interface Pass extends SendContext, PolicyContext {
  /** `queue flush`: due or not. */
  force: boolean;
  /**
   * Set when the relay could not be reached during this pass: the entries after it are deferred
   * with the same error, unread and unsealed, as an MTA marks a destination dead for a while.
   */
  relayDown?: SealpostError;
}
