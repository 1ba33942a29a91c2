import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout's root (tests run from dist/test/...). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const BIN = join(ROOT, "bin", "sealpost");
export const TEST_PUBLIC_KEY = join(ROOT, "test", "keys", "TEST-ONLY-recipient-a.pub.asc");
export const TEST_SECRET_KEY = join(ROOT, "test", "keys", "TEST-ONLY-recipient-a.sec.asc");
export const TEST_FPR = "2D078DBC84053A03A90D58A525069B8229DDA237";
export const RCPT = "ops@example.net";
export const FIXTURES = resolve(ROOT, "..", "shared", "fixtures");
