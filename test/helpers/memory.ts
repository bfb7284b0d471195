/**
 * The peak resident memory of this process while `work` runs, above what it was before: sampled
 * every 2 ms (native decoding runs on libuv's threads, so the event loop is free to sample) and
 * once more at the end. The end-of-run RSS alone misses a peak whose memory was already freed.
 */
export async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ value: T; growth: number; ms: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 2);
  const started = performance.now();
  try {
    const value = await work();
    const ms = performance.now() - started;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, growth: peak - before, ms };
  } finally {
    clearInterval(timer);
  }
}
