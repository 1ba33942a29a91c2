/** One line of `sealpost doctor`: how bad, about what, in plain words, and what to do. */
export type Level = "ok" | "warn" | "error";

export interface Finding {
  level: Level;
  area: "keys" | "relay" | "storage" | "mta" | "spool" | "log";
  text: string;
  fix?: string;
}
