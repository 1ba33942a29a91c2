/** What one spool pass carries to every entry and digest it works on: the send step's context and the failure policy's. */
import type { PolicyContext } from "./policy.js";
import type { SendContext } from "./send.js";
import type { Unsaved } from "./unsaved.js";

export interface Pass extends SendContext, PolicyContext {
  /** `queue flush`: due or not. */
  force: boolean;
  /** What the spool could not be told, from this pass and the process's earlier ones. */
  unsaved: Unsaved;
  /** Faults in the code met by single entries, which cost only them: thrown once the pass is done. */
  faults: unknown[];
}
