/** What one spool pass carries to every entry and digest it works on: the send step's context and the failure policy's. */
import type { PolicyContext } from "./policy.js";
import type { SendContext } from "./send.js";

export interface Pass extends SendContext, PolicyContext {
  /** `queue flush`: due or not. */
  force: boolean;
}
