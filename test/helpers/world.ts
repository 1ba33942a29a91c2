/** Suite-level set-up shared by the CLI tests: one gpg home and one accepting sink per suite. */
import { after, before } from "node:test";
import { Gpg } from "./gpg.js";
import { Home, type HomeOptions } from "./home.js";
import { Sink, type SinkMode, type SinkOptions } from "./sink.js";

export interface World {
  gpg: Gpg;
  sink: Sink;
}

/** Call at the top of a describe(): the returned object is filled in before the first test. */
export function useWorld(): World {
  const world = {} as World;
  before(async () => {
    world.gpg = new Gpg();
    world.sink = await new Sink().start();
  });
  after(async () => {
    world.gpg.close();
    await world.sink.stop();
  });
  return world;
}

/** A sink of its own for one test, stopped afterwards whatever happens. */
export async function withSink<T>(mode: SinkMode, fn: (sink: Sink) => Promise<T>, options: SinkOptions = {}): Promise<T> {
  const sink = await new Sink(mode, options).start();
  try {
    return await fn(sink);
  } finally {
    await sink.stop();
  }
}

/**
 * A home with the test key, relaying to the suite's sink; `relayed()` is what the sink has
 * received since it was made. Cleaned up afterwards whatever happens.
 */
export async function inHome(
  world: World,
  options: HomeOptions,
  fn: (home: Home, relayed: () => Buffer[]) => Promise<void>,
): Promise<void> {
  const home = new Home({ relayPort: world.sink.port, ...options });
  const before = world.sink.messages.length;
  try {
    await home.importTestKey();
    await fn(home, () => world.sink.messages.slice(before).map((m) => m.raw));
  } finally {
    await home.cleanup();
  }
}
