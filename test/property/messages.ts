/**
 * Generators for what may arrive on root's pipe: fixtures mutated byte-wise, synthetic messages
 * with junk headers, bad encoded-words and charsets, broken MIME boundaries, random bytes, NUL,
 * bare CR, no header, no body, empty input, a 1 MB header line and 10,000 header fields.
 */
import fc from "fast-check";

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

const fieldName = fc.oneof(
  fc.constantFrom(
    "Subject",
    "From",
    "To",
    "Cc",
    "Bcc",
    "Date",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
    "Received",
    "Reply-To",
    "Sender",
    "X-Cron-Env",
    "Auto-Submitted",
    "subject",
    "FROM",
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);

const encodedWord = fc
  .tuple(
    fc.constantFrom("UTF-8", "utf-8", "ISO-8859-1", "x-unknown", "", "utf-7", "gb18030", "bogus charset", "UTF-8*en"),
    fc.constantFrom("Q", "B", "q", "b", "X", ""),
    fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }).map(latin1), fc.constantFrom("=FF=FE", "####", "=C3", "?=")),
  )
  .map(([charset, enc, text]) => `=?${charset}?${enc}?${text}?=`);

const fieldValue = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.uint8Array({ maxLength: 60 }).map(latin1),
  fc.array(encodedWord, { minLength: 1, maxLength: 4 }).map((w) => w.join(" ")),
  fc.constantFrom(
    '<<<@@@>>>, "unterminated',
    "root",
    "a@b, , ,@",
    'multipart/mixed; boundary="',
    'text/plain; charset="x-bogus"',
    "base64",
    "quoted-printable",
    "8bit",
    "Sat, 99 Foo 2026 99:99:99 +9999",
    "(comment (nested) unclosed",
  ),
);

const lineEnd = fc.constantFrom("\n", "\r\n", "\r", "\n\r", "\0\n");

const field = fc
  .tuple(fieldName, fieldValue, fc.boolean(), lineEnd)
  .map(([name, value, fold, end]) => (fold ? `${name}: ${value}${end}\t${value}${end}` : `${name}: ${value}${end}`));

const brokenMultipart = fc
  .tuple(fc.string({ minLength: 0, maxLength: 10 }), fc.string({ maxLength: 10 }), fc.string({ maxLength: 80 }), fc.boolean())
  .map(
    ([boundary, other, text, close]) =>
      `Content-Type: multipart/mixed; boundary="${boundary}"\n\n--${other}\nContent-Type: text/plain\n\n${text}\n--${boundary}\n` +
      `Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${text}=\n${close ? `--${boundary}--\n` : ""}`,
  );

const bodyPiece = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map(latin1),
  fc.constantFrom("\0", "\r", "\r\r\n", ".\n", "From me\n", ">From you\n", "=\n", "=ZZ\n", "-----BEGIN PGP MESSAGE-----\n"),
);

const synthetic = fc
  .tuple(fc.array(field, { maxLength: 25 }), fc.constantFrom("\n", "\r\n", "", "\n\n"), fc.array(bodyPiece, { maxLength: 10 }))
  .map(([fields, separator, body]) => Buffer.from(fields.join("") + separator + body.join(""), "latin1"));

type Mutation =
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete" | "duplicate"; at: number; length: number }
  | { kind: "flip"; at: number; byte: number }
  | { kind: "truncate"; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }),
  }),
  fc.record({
    kind: fc.constantFrom("delete" as const, "duplicate" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    length: fc.integer({ min: 1, max: 400 }),
  }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

export function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let b = input;
  for (const m of mutations) {
    const at = Math.floor(m.at * b.length);
    if (m.kind === "insert") b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.kind === "delete") b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    else if (m.kind === "duplicate") b = Buffer.concat([b.subarray(0, at + m.length), b.subarray(at)]);
    else if (m.kind === "flip" && at < b.length) (b = Buffer.from(b))[at] = m.byte;
    else if (m.kind === "truncate") b = b.subarray(0, at);
  }
  return b;
}

const HUGE: Buffer[] = [
  Buffer.from(`Subject: ${"x".repeat(1024 * 1024)}\n\nbody\n`),
  Buffer.from("X-Filler: y\n".repeat(10_000) + "\nbody\n"),
  Buffer.from(`X-Long: ${"=?UTF-8?Q?=C3=A4?= ".repeat(20_000)}\n\n`),
];

/** Any input the property sees; `fixtures` are the raw bytes of real system mails. */
export function messageInput(fixtures: Buffer[]): fc.Arbitrary<Buffer> {
  const fixture = fc.constantFrom(...fixtures);
  return fc.oneof(
    {
      arbitrary: fc.tuple(fc.oneof(fixture, synthetic), fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([b, m]) => mutate(b, m)),
      weight: 12,
    },
    { arbitrary: synthetic, weight: 8 },
    { arbitrary: brokenMultipart.map((s) => Buffer.from(`From: root\nSubject: report\nMIME-Version: 1.0\n${s}`, "latin1")), weight: 3 },
    { arbitrary: fixture, weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)), weight: 4 },
    { arbitrary: fc.constant(Buffer.alloc(0)), weight: 1 },
    { arbitrary: fc.constantFrom(...HUGE), weight: 1 },
  );
}

/** The input with the canary planted on a line of its own at `at` (0..1 of the way in) — or not at all. */
export function withCanary(input: Buffer, canary: string, at: number | null): Buffer {
  if (at === null) return input;
  const pos = input.indexOf(0x0a, Math.floor(at * input.length));
  const cut = pos === -1 ? input.length : pos + 1;
  const sep = cut > 0 && input[cut - 1] !== 0x0a ? "\n" : "";
  return Buffer.concat([input.subarray(0, cut), Buffer.from(`${sep}${canary}\n`), input.subarray(cut)]);
}

/**
 * What a hostile local user submits to serve or sendmail: a header of
 * megabytes in one field (bare addresses, a Subject) or in a million fields, thousands of address
 * fields, Subjects and bodies built from the tokens that make a careless pattern quadratic, a
 * large body. Sizes run log-uniformly from harmless to the attack's own. A case is a short
 * description (so a counterexample prints in a line); hostileBytes() makes the message, LF-ended.
 */
export interface HostileCase {
  shape: keyof typeof HOSTILE_SHAPES;
  size: number;
  token: string;
}

const HOSTILE_SHAPES = {
  "bare addresses in To": {
    max: 20 << 20,
    make: (n: number) => `From: a@b.example\nTo: ${"u1, ".repeat(Math.ceil(n / 4))}u2\nSubject: to\n\nbody\n`,
  },
  "long Subject": { max: 20 << 20, make: (n: number) => `From: a@b.example\nSubject: ${"x ".repeat(Math.ceil(n / 2))}\n\nbody\n` },
  "many fields": { max: 1_000_000, make: (n: number) => `From: a@b.example\n${"X-F: y\n".repeat(n)}\nbody\n` },
  "many To fields": { max: 12_000, make: (n: number) => `From: a@b.example\n${"To: a\n".repeat(n)}Subject: t\n\nbody\n` },
  "login Subject": { max: 45_000, make: (n: number, t: string) => `From: a@b.example\nSubject: login: ${spell(t, n)}\n\nbody\n` },
  "mdadm Subject": {
    max: 45_000,
    make: (n: number, t: string) => `From: mdadm@b.example\nSubject: Fail event on /dev/${spell(t, n)}\n\nbody\n`,
  },
  "sshd body": {
    max: 45_000,
    make: (n: number, t: string) =>
      `From: a@b.example\nSubject: login alert\n\nuser: ${spell(t, n)}\nAccepted ${spell(t, n)}\nNov 1 1 ${spell(t, n)}\n`,
  },
  bounce: {
    max: 45_000,
    make: (n: number, t: string) =>
      `From: MAILER-DAEMON@b.example\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n` +
      `--b\nContent-Type: text/plain\n\n<${spell(t, n)}\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient:${spell(t, n)}\nReporting-MTA:${spell(t, n)}\n--b--\n`,
  },
  "large body": {
    max: 8 << 20,
    make: (n: number) => `From: a@b.example\nSubject: backup\n\n${`${"z".repeat(76)}\n`.repeat(Math.ceil(n / 77))}`,
  },
};

/** `token` over and over, `n` characters of it. */
function spell(token: string, n: number): string {
  return token.repeat(Math.ceil(n / token.length)).slice(0, n);
}

export function hostileInput(): fc.Arbitrary<HostileCase> {
  const shapes = Object.keys(HOSTILE_SHAPES) as Array<HostileCase["shape"]>;
  const token = fc.constantFrom(
    "a.",
    "a ",
    ".",
    ":",
    "@",
    "for ",
    "from ",
    "a from ",
    ":x",
    "; ",
    "<",
    ">",
    "x:",
    " : ",
    "TTY=",
    "banned ",
  );
  return fc
    .tuple(fc.constantFrom(...shapes), fc.double({ min: 0.3, max: 1, noNaN: true }), token)
    .map(([shape, at, t]) => ({ shape, size: Math.floor(HOSTILE_SHAPES[shape].max ** at), token: t })); // log-uniform sizes
}

export function hostileBytes(c: HostileCase): Buffer {
  return Buffer.from(HOSTILE_SHAPES[c.shape].make(c.size, c.token), "latin1");
}
