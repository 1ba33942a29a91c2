/** What the full bundle gives the pipe doors that the light one cannot: OpenPGP and the SMTP client, loaded when first needed. */
import type { Heavy } from "./deliver-door.js";

export const heavy: Heavy = {
  deliverInline: async (req) => (await import("../pipeline/deliver-inline.js")).deliverInline(req),
  freshKeyIndex: async (keysDir) => (await import("../crypto/key-index.js")).refreshKeyIndex(keysDir),
  runQueue: async (config) => {
    await (await import("../pipeline/pass.js")).runPass(config, { lockWaitMs: 30_000 });
  },
};
