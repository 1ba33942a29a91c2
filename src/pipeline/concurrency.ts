/** Bounded concurrency for a pass: a few entries at a time, and never more than so many bytes of them in memory. */

/** Messages held in memory at once by a pass: a backlog of large reports must not multiply the 25 MB of one. */
export const PASS_BYTES = 32 << 20;

/**
 * `work` on every item, at most `limit` at a time and, when `weigh` says how large each is, at
 * most PASS_BYTES of them at once (one larger item runs alone); the first failure is thrown once
 * all have ended.
 */
export async function eachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
  weigh?: (item: T) => Promise<number>,
): Promise<void> {
  let next = 0;
  let held = 0;
  let running = 0;
  let failure: { error: unknown } | undefined;
  const waiting: Array<() => void> = [];
  const admit = async (weight: number) => {
    while (running > 0 && held + weight > PASS_BYTES) await new Promise<void>((resolve) => waiting.push(resolve));
    held += weight;
    running++;
  };
  const leave = (weight: number) => {
    held -= weight;
    running--;
    waiting.splice(0).forEach((wake) => wake());
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !failure) {
        const item = items[next++]!;
        const weight = weigh ? await weigh(item).catch(() => 0) : 0;
        await admit(weight);
        try {
          await work(item);
        } catch (error) {
          failure ??= { error };
        } finally {
          leave(weight);
        }
      }
    }),
  );
  if (failure) throw failure.error;
}
