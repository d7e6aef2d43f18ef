import { isSessionStoreError, type SessionStore } from "@sessionbridge/core";

/**
 * Continuous session traffic for failover tests: workers create sessions and read back earlier ones,
 * recording every failure and every acknowledged write, so a test can assert outcomes (the store
 * resumes, nothing acknowledged is lost) and print the timeline as a measurement.
 */
export interface LoadRecorder {
  /** Marks the moment of the fault (e.g. right before kill -9), for the timeline. */
  markFault(): void;
  /** Resolves once `count` writes that started after the fault (and the last failure) have succeeded. */
  writesSucceedAfterFault(count?: number, timeoutMs?: number): Promise<void>;
  /** Stops the workers and reports. */
  stop(): Promise<LoadReport>;
  /** Ids of sessions whose `set` resolved, with the data written. */
  acknowledged(): Map<string, { n: number }>;
}

export interface LoadReport {
  requests: number;
  failed: number;
  /** Failures by SessionStoreError code (or the error name). */
  failuresByCode: Record<string, number>;
  /** The first and the last message seen for each code (what a user's log would show). */
  messages: Record<string, string[]>;
  /** ms from the fault to the first failed request (undefined: none failed). */
  firstFailureMs: number | undefined;
  /** ms from the fault to the end of the last failed request. */
  lastFailureMs: number | undefined;
  /** ms from the fault until a write that started after the last failure succeeded. */
  writesResumedMs: number | undefined;
  /** Reads of an acknowledged session that came back empty while the load ran. */
  missedReads: number;
}

/**
 * `workers` concurrent clients, each pausing `pauseMs` between requests (default 2): a steady, bounded
 * rate, so one store's load does not starve the servers and the other loads on a 2-core machine.
 */
export function startLoad(store: SessionStore, options: { workers?: number; prefix?: string; pauseMs?: number } = {}): LoadRecorder {
  const pauseMs = options.pauseMs ?? 2;
  const acknowledged = new Map<string, { n: number }>();
  const written: string[] = [];
  let running = true;
  let faultAt: number | undefined;
  let requests = 0;
  let failed = 0;
  let missedReads = 0;
  let firstFailureAt: number | undefined;
  let lastFailureAt: number | undefined;
  let resumedAt: number | undefined;
  const failuresByCode: Record<string, number> = {};
  const messages: Record<string, string[]> = {};
  const successesAfterFault: Array<() => void> = [];
  let successCount = 0;
  let serial = 0;

  const fail = (error: unknown): void => {
    failed++;
    const code = (error as { code?: unknown }).code;
    const name = typeof code === "string" ? code : error instanceof Error ? error.name : "unknown";
    failuresByCode[name] = (failuresByCode[name] ?? 0) + 1;
    const seen = (messages[name] ??= []);
    seen.splice(1, 1, error instanceof Error ? error.message : String(error));
    const now = Date.now();
    firstFailureAt ??= now;
    lastFailureAt = now;
    resumedAt = undefined;
    successCount = 0;
  };

  const worker = async (w: number): Promise<void> => {
    while (running) {
      const id = `${options.prefix ?? "load"}-${w}-${serial++}`;
      const started = Date.now();
      requests++;
      try {
        const data = { n: serial };
        await store.set(id, data);
        acknowledged.set(id, data);
        written.push(id);
        if ((faultAt === undefined || started >= faultAt) && (lastFailureAt === undefined || started > lastFailureAt)) {
          if (faultAt !== undefined) resumedAt ??= Date.now();
          successCount++;
          for (const wake of successesAfterFault.splice(0)) wake();
        }
      } catch (error) {
        fail(error);
        // A failure may come back without touching the network (the store answers at once while the
        // backend is down): pause like a client retrying, so the loop never starves the event loop.
        await new Promise((resolve) => setTimeout(resolve, Math.max(5, pauseMs)));
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const earlier = written[Math.floor(Math.random() * written.length)];
      if (earlier === undefined) continue;
      requests++;
      try {
        if ((await store.get(earlier)) === null) missedReads++;
      } catch (error) {
        fail(error);
      }
    }
  };
  const workers = Array.from({ length: options.workers ?? 4 }, (_, w) => worker(w));

  return {
    markFault() {
      faultAt = Date.now();
      successCount = 0;
    },
    writesSucceedAfterFault(count = 20, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`writes did not resume within ${timeoutMs} ms: ${requests} requests, ${failed} failed ${JSON.stringify(failuresByCode)}`)), timeoutMs);
        const check = (): void => {
          if (successCount < count) {
            successesAfterFault.push(check);
            return;
          }
          clearTimeout(timer);
          resolve();
        };
        check();
      });
    },
    async stop() {
      running = false;
      await Promise.all(workers);
      const since = (at: number | undefined) => (at === undefined || faultAt === undefined ? undefined : at - faultAt);
      return {
        requests,
        failed,
        failuresByCode,
        messages,
        firstFailureMs: since(firstFailureAt),
        lastFailureMs: since(lastFailureAt),
        writesResumedMs: since(resumedAt),
        missedReads,
      };
    },
    acknowledged: () => acknowledged,
  };
}

/**
 * Counts acknowledged sessions the store no longer has. "Lost" means a read that answers and finds nothing
 * (or an older write), never a read that fails: on a loaded host Sentinel can take the new master for down
 * too and fail over once more while the sessions are counted, and the store then answers UNAVAILABLE until
 * it follows. Such a read is asked again (the store recovers by itself) until `recoverWithinMs`.
 */
export async function countLost(store: SessionStore, acknowledged: Map<string, { n: number }>, recoverWithinMs = 30_000): Promise<number> {
  let lost = 0;
  for (const [id, data] of acknowledged) {
    const found = await readOnceAvailable(store, id, Date.now() + recoverWithinMs);
    if (found === null || found.n !== data.n) lost++;
  }
  return lost;
}

async function readOnceAvailable(store: SessionStore, id: string, until: number): Promise<Record<string, unknown> | null> {
  for (;;) {
    try {
      return (await store.get(id)) as Record<string, unknown> | null;
    } catch (error) {
      const transient = isSessionStoreError(error) && (error.code === "UNAVAILABLE" || error.code === "TIMEOUT");
      if (!transient || Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
