/**
 * serve's connection deadlines (src/serve/connection-guard.ts), on real loopback sockets with a
 * clock the test moves: the CLI test proves the 30 s line deadline against real slowloris; these
 * prove the ones too long to wait for (DATA within 60 s, the message within 5 minutes, the session
 * within 10) and that none of them cuts a client that is waiting for our reply.
 */
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type { SMTPServerSession } from "smtp-server";
import { ConnectionGuard, DATA_MS, ENVELOPE_MS, LINE_MS, SESSION_MS } from "../../src/serve/connection-guard.js";

const SWEPT_MS = 1_300; // the guard looks once a second

describe("serve's connection deadlines", () => {
  let clock = 0;
  const guard = new ConnectionGuard(() => clock);
  let server: Server;
  let port = 0;
  const accepted: Socket[] = [];

  before(async () => {
    server = createServer((socket) => {
      accepted.push(socket);
      socket.on("error", () => undefined);
    });
    guard.attach(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    guard.stop();
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A client whose session has begun at the clock's time; `said` is what the guard wrote to it. */
  async function session(): Promise<{ client: Socket; session: SMTPServerSession; said: () => string; closed: () => boolean }> {
    const count = accepted.length;
    const client = createConnection(port, "127.0.0.1");
    let said = "";
    let closed = false;
    client.on("data", (c: Buffer) => (said += c.toString()));
    client.on("close", () => (closed = true));
    client.on("error", () => undefined);
    await new Promise((resolve) => client.once("connect", resolve));
    while (accepted.length === count) await sleep(5);
    const s = {
      remoteAddress: client.localAddress,
      remotePort: client.localPort,
      localAddress: client.remoteAddress,
      localPort: client.remotePort,
    };
    const smtpSession = s as unknown as SMTPServerSession;
    guard.begin(smtpSession);
    return { client, session: smtpSession, said: () => said, closed: () => closed };
  }

  /** The clock at `at`, once the guard has looked: the client must be cut, told `reason`, or still open when `reason` is null. */
  async function lookAt(c: { said: () => string; closed: () => boolean }, at: number, reason: RegExp | null): Promise<void> {
    clock = at;
    await sleep(SWEPT_MS);
    if (reason === null) {
      assert.ok(!c.closed(), `still open at ${at} ms`);
      return;
    }
    assert.ok(c.closed(), `cut at ${at} ms`);
    assert.match(c.said(), reason);
  }

  /** The client writes `text`, which reaches the guard at the clock's present time. */
  async function write(client: Socket, text: string): Promise<void> {
    client.write(text);
    await sleep(50);
  }

  it("a client that never reaches DATA is told 421 4.4.2 and cut 60 s after its greeting, though a line comes every 20 s", async () => {
    clock = 0;
    const c = await session();
    for (clock = 20_000; clock < ENVELOPE_MS; clock += 20_000) await write(c.client, "NOOP\r\n");
    await lookAt(c, ENVELOPE_MS + 1_000, /^421 4\.4\.2 timeout: no DATA within 60 s/);
  });

  it("a line that is not complete within 30 s is cut, however many of its bytes trickle in", async () => {
    clock = 0;
    const c = await session();
    for (clock = 5_000; clock <= LINE_MS; clock += 5_000) await write(c.client, "E");
    await lookAt(c, LINE_MS + 1_000, /^421 4\.4\.2 timeout: no complete line for 30 s/);
  });

  it("a message must be in within 5 minutes of DATA, however steadily its lines come", async () => {
    clock = 0;
    const c = await session();
    guard.receiving(c.session);
    for (clock = 20_000; clock < DATA_MS; clock += 20_000) await write(c.client, "a line of the message\r\n");
    await lookAt(c, clock, null);
    await lookAt(c, DATA_MS + 1_000, /^421 4\.4\.2 timeout: message not in within 300 s/);
  });

  it("a client waiting for our reply is never cut, whatever the clock says; once answered, the deadlines hold again", async () => {
    clock = 0;
    const c = await session();
    guard.receiving(c.session);
    guard.replying(c.session);
    await lookAt(c, 10 * SESSION_MS, null); // the commit may take its time
    guard.answered(c.session);
    await lookAt(c, 10 * SESSION_MS, /^421 4\.4\.2 timeout: session longer than 600 s/);
  });

  it("the whole session ends after 10 minutes, however busy", async () => {
    clock = 0;
    const c = await session();
    for (clock = 20_000; clock < SESSION_MS; clock += 20_000) {
      await write(c.client, "NOOP\r\n");
      if (clock % 40_000 === 0) {
        // a message every 40 s
        guard.receiving(c.session);
        guard.replying(c.session);
        guard.answered(c.session);
      }
    }
    await lookAt(c, clock, null);
    await lookAt(c, SESSION_MS + 1_000, /^421 4\.4\.2 timeout: session longer than 600 s/);
  });
});
