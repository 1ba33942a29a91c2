import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { relayError } from "../../src/relay/relay.js";

const RELAY = { host: "smtp.example.net", port: 587, security: "starttls" as const, timeoutSeconds: 30 };

describe("relay errors: temporary unless the relay refused the message itself", () => {
  /** The fields of nodemailer's SMTP errors that relayError reads. */
  interface SmtpFields {
    code?: string;
    responseCode?: number;
    response?: string;
    message?: string;
  }
  const table: Array<[string, SmtpFields, "temporary" | "permanent", RegExp]> = [
    [
      "554 at MAIL",
      { code: "EENVELOPE", responseCode: 554, response: "554 5.7.1 rejected" },
      "permanent",
      /answered: 554 5\.7\.1 rejected/,
    ],
    ["550 at RCPT", { code: "EENVELOPE", responseCode: 550, response: "550 5.1.1 no such user" }, "permanent", /550/],
    ["552 after DATA", { code: "EMESSAGE", responseCode: 552, response: "552 too big" }, "permanent", /552/],
    ["451 at MAIL", { code: "EENVELOPE", responseCode: 451, response: "451 later" }, "temporary", /451/],
    ["452 at RCPT", { code: "EENVELOPE", responseCode: 452, response: "452 full" }, "temporary", /452/],
    ["421 at greeting", { code: "EPROTOCOL", responseCode: 421, response: "421 busy" }, "temporary", /421/],
    ["554 at greeting", { code: "EPROTOCOL", responseCode: 554, response: "554 no service" }, "temporary", /554/],
    ["500 to STARTTLS", { code: "ETLS", responseCode: 500, response: "500 command not recognized" }, "temporary", /TLS failed/],
    ["535 to AUTH", { code: "EAUTH", responseCode: 535, response: "535 bad credentials" }, "temporary", /refused the login/],
    ["connection refused", { code: "ECONNECTION", message: "connect ECONNREFUSED" }, "temporary", /cannot connect/],
    ["timeout", { code: "ETIMEDOUT" }, "temporary", /timed out/],
    ["a self-signed certificate", { code: "ESOCKET", message: "self-signed certificate" }, "temporary", /TLS failed/],
    ["something unknown", {}, "temporary", /failed$/],
  ];
  for (const [name, err, permanence, text] of table) {
    it(name, () => {
      const e = relayError(Object.assign(new Error(err.message ?? "x"), err), RELAY);
      assert.equal(e.permanence, permanence);
      assert.match(e.publicMessage, text);
      assert.match(e.status, permanence === "permanent" ? /^5\./ : /^4\./);
    });
  }
});
