/**
 * Waiting on AWS: backoff loops whose sleeps are injectable, so tests run instantly. Elapsed
 * time is counted from the sleeps themselves, which keeps deadlines deterministic under test.
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export interface Waiter {
  sleep: Sleep;
  signal?: AbortSignal;
  /** Shown while waiting, e.g. on a step's spinner: "waiting for the role to propagate (12s)". */
  onWait?: (message: string) => void;
}

export interface BackoffOptions {
  /** Give up after waiting this long in total (ms). */
  timeout: number;
  initialDelay?: number;
  maxDelay?: number;
}

/**
 * Calls `fn` until it succeeds. `retryable(err)` returns a short reason to keep waiting ("the role
 * is not assumable yet") or undefined to rethrow at once. After `timeout` ms of waiting the last
 * error is rethrown.
 */
export async function retryWhile<T>(fn: () => Promise<T>, retryable: (err: unknown) => string | undefined, waiter: Waiter, opts: BackoffOptions): Promise<T> {
  let delay = opts.initialDelay ?? 1000;
  let waited = 0;
  for (;;) {
    waiter.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      const reason = retryable(err);
      if (!reason || waited + delay > opts.timeout) throw err;
      waiter.onWait?.(`${reason} (waited ${Math.round(waited / 1000)}s)`);
      await waiter.sleep(delay, waiter.signal);
      waited += delay;
      delay = Math.min(delay * 2, opts.maxDelay ?? 10_000);
    }
  }
}

/** Polls `check` until it returns a value; `check` returns {wait: reason} to keep polling. */
export async function pollUntil<T>(check: () => Promise<{ value: T } | { wait: string }>, waiter: Waiter, opts: BackoffOptions & { onTimeout: (reason: string) => Error }): Promise<T> {
  let delay = opts.initialDelay ?? 1000;
  let waited = 0;
  for (;;) {
    waiter.signal?.throwIfAborted();
    const r = await check();
    if ("value" in r) return r.value;
    if (waited + delay > opts.timeout) throw opts.onTimeout(r.wait);
    waiter.onWait?.(`${r.wait} (waited ${Math.round(waited / 1000)}s)`);
    await waiter.sleep(delay, waiter.signal);
    waited += delay;
    delay = Math.min(delay * 2, opts.maxDelay ?? 5000);
  }
}
