/**
 * Letting other work in. serve is one event loop for every SMTP client and the spool runner, so
 * a long step over one message pauses here and there to let other sockets be read.
 */

/**
 * Resolves after the event loop has polled for I/O once more. One setImmediate is not enough:
 * started from an I/O callback it runs in the same turn, before any other socket is read.
 */
export function letOthersIn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
