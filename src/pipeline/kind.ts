/** A message's kind, worked out only when the config makes use of it: classifying costs a MIME parse. */
import type { Config } from "../config/schema.js";
import type { RawMessage } from "../mail/raw-message.js";
import { routesNeedKind } from "./routing.js";

/**
 * `use`: "route" when routing needs it (some match_kind), "subject" when only the outer Subject
 * does (message.subject_template); undefined when nothing will look at it.
 */
export async function kindOf(
  config: Config,
  raw: RawMessage,
  envelopeSender: string,
  use: "route" | "subject",
): Promise<string | undefined> {
  const needed = config.message.subjectTemplate !== undefined || (use === "route" && routesNeedKind(config.routes));
  if (!needed) return undefined;
  // Loaded only now: a MIME parse (postal-mime) is what the intake costs when no route needs it.
  const { classify } = await import("../classify/classify.js");
  return (await classify(raw.bytes, envelopeSender)).kind;
}
