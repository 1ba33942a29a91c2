/** The kernel's word on who is at the other end of a loopback connection (serve's submitters). */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createConnection, createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { loopbackPeerUid } from "../../src/core/loopback-peer.js";

async function peerOfOwnConnection(host: string): Promise<{ uid: number | undefined; swapped: number | undefined }> {
  const server = createServer();
  server.listen(0, host);
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const client = createConnection((server.address() as { port: number }).port, host);
  const [socket] = await accepted;
  try {
    const clientEnd = { address: socket.remoteAddress!, port: socket.remotePort! };
    const serverEnd = { address: socket.localAddress!, port: socket.localPort! };
    return {
      uid: await loopbackPeerUid(clientEnd, serverEnd),
      swapped: await loopbackPeerUid({ ...clientEnd, port: clientEnd.port + 1 }, serverEnd),
    };
  } finally {
    client.destroy();
    socket.destroy();
    server.close();
  }
}

describe("loopbackPeerUid", () => {
  for (const host of ["127.0.0.1", "::1"]) {
    it(`finds this process's uid for its own connection over ${host}, and nothing for a port no connection has`, async (t) => {
      let result;
      try {
        result = await peerOfOwnConnection(host);
      } catch {
        t.skip(`no ${host} here`);
        return;
      }
      assert.equal(result.uid, process.getuid!());
      assert.equal(result.swapped, undefined);
    });
  }

  it("an address that is not an IP address finds nothing", async () => {
    assert.equal(await loopbackPeerUid({ address: "localhost", port: 1 }, { address: "127.0.0.1", port: 2 }), undefined);
  });
});
