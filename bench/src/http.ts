import autocannon from "autocannon";
import { WORKLOADS, type Workload } from "./matrix.js";

/** One timed run of one app under one workload. */
export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Answers that were not 2xx (a lost session answers 401): anything above 0 marks the row. */
  non2xx: number;
  errors: number;
}

/** Logs in `count` users and returns their Cookie headers. */
export async function loginPool(baseUrl: string, count: number): Promise<string[]> {
  const cookies: string[] = [];
  const worker = async (): Promise<void> => {
    while (cookies.length < count) {
      const response = await fetch(`${baseUrl}/login`);
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`GET ${baseUrl}/login answered ${response.status}`);
      const cookie = cookieHeader(response.headers.getSetCookie());
      if (!cookie) throw new Error(`GET ${baseUrl}/login set no cookie`);
      cookies.push(cookie);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return cookies.slice(0, count);
}

/** `Set-Cookie` headers → one `Cookie` header (name=value pairs only). */
export function cookieHeader(setCookies: string[]): string {
  return setCookies.map((line) => line.split(";", 1)[0]).join("; ");
}

/** Checks that a logged-in page really sees the session (a store that loses it would measure 401s). */
export async function assertLoggedIn(baseUrl: string, cookie: string): Promise<void> {
  const response = await fetch(`${baseUrl}/page`, { headers: { cookie } });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${baseUrl}/page with a fresh login answered ${response.status}: ${body.slice(0, 200)}`);
}

export async function runLoad(baseUrl: string, workload: Workload, cookies: readonly string[], seconds: number, connections: number): Promise<LoadResult> {
  const spec = WORKLOADS[workload];
  let next = 0;
  const result = await autocannon({
    url: baseUrl,
    connections,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: "GET",
        path: spec.path,
        // Each request carries the next user's cookie, so the store sees many sessions, not one hot key.
        setupRequest: (request) => (spec.withCookie ? { ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length] as string } } : request),
      },
    ],
  });
  return {
    rps: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** Sends exactly `count` requests of the workload, `concurrency` at a time (for exact command counts). */
export async function sendRequests(baseUrl: string, workload: Workload, cookies: readonly string[], count: number, concurrency = 8): Promise<number> {
  const spec = WORKLOADS[workload];
  let sent = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      const i = sent++;
      const headers: Record<string, string> = spec.withCookie ? { cookie: cookies[i % cookies.length] as string } : {};
      const response = await fetch(`${baseUrl}${spec.path}`, { headers });
      await response.arrayBuffer();
      if (response.status !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failed;
}
