import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { createSessionStore, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { refusedPort, startRedis, testClient, type RedisServer } from "@sessionbridge/testing";
import { fileAppears, sessionbridge, startSessionbridge } from "./run.js";

/** The `sessionbridge` bin end to end against a real redis-server with a password (which it must never print). */

const PASSWORD = "pw-Zq8xVv3-never-printed";
const KEY = randomBytes(32).toString("base64");
const KEYS = `k1:${KEY}`;
const SECRETS = [PASSWORD, KEY];

let redis: RedisServer;
let raw: Redis;
const stores: SessionStore[] = [];
const dir = mkdtempSync(join(tmpdir(), "sessionbridge-cli-"));
const store = (options: Omit<SessionStoreOptions, "url">) => {
  const made = createSessionStore({ url: redis.url, ...options });
  stores.push(made);
  return made;
};
const env = (extra: Record<string, string> = {}) => ({ SESSIONBRIDGE_URL: redis.url, ...extra });

beforeAll(async () => {
  redis = await startRedis({ kind: "requirepass", password: PASSWORD });
  raw = testClient({ port: redis.port, password: PASSWORD, lazyConnect: true });
  await raw.connect();
});
afterAll(async () => {
  raw?.disconnect();
  await Promise.all(stores.map((s) => s.close()));
  await redis?.dispose();
});

describe("bad input and secrets", () => {
  it("exits 2 with a clear message for bad input", async () => {
    const none = await sessionbridge(["count"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no store given: pass --url/);
    const unknown = await sessionbridge(["frobnicate"], { env: env(), secrets: SECRETS });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const rate = await sessionbridge(["migrate", "--from", "connect-redis", "--rate", "fast"], { env: env(), secrets: SECRETS });
    expect(rate.code).toBe(2);
    expect(rate.stderr).toMatch(/--rate must be a positive number/);
    const config = await sessionbridge(["count", "--config", join(dir, "missing.json")]);
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(/missing\.json: cannot read it \(ENOENT\)/);
    const noSource = await sessionbridge(["migrate"], { env: env(), secrets: SECRETS });
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toMatch(/migrate needs a source: pass --from/);
    const badOption = await sessionbridge(["count"], { env: env({ SESSIONBRIDGE_PREFIX: "has space" }), secrets: SECRETS });
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/prefix/);
  });

  it("never prints the password of a URL, even when the server is down or refuses it", async () => {
    const down = `redis://app:${PASSWORD}@127.0.0.1:${await refusedPort()}`;
    const ping = await sessionbridge(["--url", down, "--timeout-ms", "500", "ping"], { secrets: SECRETS });
    expect(ping.code).toBe(1);
    expect(ping.stdout).toMatch(/down/);
    const wrong = `redis://:${PASSWORD}x@127.0.0.1:${redis.port}`;
    const refused = await sessionbridge(["--url", wrong, "count"], { secrets: SECRETS });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/sessionbridge: /);
  });
});

describe("ping, count, sessions, revoke", () => {
  it("pings with a latency", async () => {
    const run = await sessionbridge(["ping"], { env: env(), secrets: SECRETS });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^redis 127\.0\.0\.1:\d+: up, [\d.]+ ms$/m);
  });

  it("counts sessions under the prefix, not the per-user index", async () => {
    const s = store({ prefix: "c1:", userIdFrom: (data) => data.user as string });
    await s.set("a", { user: "ada" });
    await s.set("b", { user: "ada" });
    await s.set("c", {});
    const run = await sessionbridge(["--prefix", "c1:", "count"], { env: env(), secrets: SECRETS });
    expect(run).toMatchObject({ code: 0, stdout: "3\n" });
  });

  it("lists a user's sessions and revokes all but one", async () => {
    const s = store({ prefix: "u1:", userIdFrom: (data) => data.user as string });
    for (const id of ["s1", "s2", "s3"]) await s.set(id, { user: "grace" }, { meta: { ip: `10.0.0.${id.slice(1)}` } });
    const list = await sessionbridge(["--prefix", "u1:", "--json", "sessions", "grace"], { env: env(), secrets: SECRETS });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(3);
    const table = await sessionbridge(["--prefix", "u1:", "sessions", "grace"], { env: env(), secrets: SECRETS });
    expect(table.stdout).toContain("ip=10.0.0.2");
    expect(table.stdout).not.toContain("s2\t"); // handles, never session ids
    const revoke = await sessionbridge(["--prefix", "u1:", "revoke", "grace", "--except", "s2"], { env: env(), secrets: SECRETS });
    expect(revoke).toMatchObject({ code: 0, stdout: 'revoked 2 session(s) of user "grace" (kept 1)\n' });
    expect(await s.get("s1")).toBeNull();
    expect(await s.get("s2")).toEqual({ user: "grace" });
  });
});

/** A connect-redis session as express-session stores it. */
function incumbent(user: string, expiresAtMs: number): string {
  return JSON.stringify({ cookie: { originalMaxAge: 3_600_000, expires: new Date(expiresAtMs).toISOString(), httpOnly: true, path: "/" }, user });
}

describe("migrate", () => {
  it("dry-runs, then moves every connect-redis session, counting expired and corrupt ones", async () => {
    const hour = Date.now() + 3_600_000;
    for (let i = 0; i < 25; i++) await raw.set(`old:${i}`, incumbent(`u${i}`, hour), "PX", 3_600_000);
    await raw.set("old:past", incumbent("late", Date.now() - 1000), "PX", 3_600_000); // cookie expired, key not yet
    await raw.set("old:junk", "not a session", "PX", 3_600_000);
    const args = ["--prefix", "m1:", "migrate", "--from", "connect-redis", "--from-prefix", "old:"];

    const dry = await sessionbridge([...args, "--dry-run", "--json"], { env: env(), secrets: SECRETS });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, moved: 25, expired: 1, corrupt: 1, skipped: 0, failed: 0 });
    expect(await raw.exists("old:0")).toBe(1);

    const checkpoint = join(dir, "m1.checkpoint.json");
    const run = await sessionbridge([...args, "--rate", "2000", "--checkpoint", checkpoint], { env: env(), secrets: SECRETS });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("moved: 25\nskipped: 0\nexpired: 1\ncorrupt: 1\nfailed: 0\n");
    const s = store({ prefix: "m1:" });
    expect(await s.get("7")).toEqual({ user: "u7" });
    expect(await raw.exists("old:7")).toBe(0);
    expect(await raw.exists("old:junk")).toBe(1); // left alone
    expect(JSON.parse(readFileSync(checkpoint, "utf8"))).toMatchObject({ finished: true, counts: { moved: 25 } });
  });

  it("resumes from an interrupted run's checkpoint: what moved before is gone from the source, totals carry over", async () => {
    for (let i = 0; i < 3; i++) await raw.set(`old2:${i}`, incumbent(`r${i}`, Date.now() + 3_600_000), "PX", 3_600_000);
    const checkpoint = join(dir, "m2.checkpoint.json");
    // What an interrupted run leaves: its totals, not finished (its 5 moved sessions left the source).
    const probe = store({ prefix: "m2:", migrateFrom: { format: "connect-redis", prefix: "old2:" } });
    writeFileSync(checkpoint, JSON.stringify({ format: "sessionbridge-migrate-checkpoint", source: probe.migrateSource?.label, counts: { moved: 5, skipped: 0, expired: 0, corrupt: 0, failed: 0 }, finished: false, updatedAt: new Date().toISOString() }));
    const run = await sessionbridge(["--prefix", "m2:", "--json", "migrate", "--from", "connect-redis", "--from-prefix", "old2:", "--checkpoint", checkpoint], { env: env(), secrets: SECRETS });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/resuming from checkpoint/);
    expect(JSON.parse(run.stdout)).toMatchObject({ moved: 8 });
  });

  it("stops cleanly on Ctrl-C: the moves in flight finish, the checkpoint holds exact totals, and the rerun's summary adds up to every session", async () => {
    const total = 1200;
    const pipeline = raw.pipeline();
    for (let i = 0; i < total; i++) pipeline.set(`old3:${i}`, incumbent(`c${i}`, Date.now() + 3_600_000), "PX", 3_600_000);
    await pipeline.exec();
    const checkpoint = join(dir, "m3.checkpoint.json");
    const args = ["--prefix", "m3:", "--json", "migrate", "--from", "connect-redis", "--from-prefix", "old3:", "--rate", "400", "--checkpoint", checkpoint];
    // The first checkpoint (after 500 sessions) is written by a rename into the directory: interrupt then.
    const written = fileAppears(dir, "m3.checkpoint.json");
    const first = startSessionbridge(args, env());
    await written;
    first.child.kill("SIGINT");
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/interrupted by SIGINT .* run the same command again to resume/);
    const movedBefore = (await raw.keys("m3:*")).length;
    expect(movedBefore).toBeGreaterThanOrEqual(500);
    expect(movedBefore).toBeLessThan(total);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ interrupted: true, moved: movedBefore });
    expect(JSON.parse(readFileSync(checkpoint, "utf8"))).toMatchObject({ finished: false, counts: { moved: movedBefore } });

    const rest = await sessionbridge(args, { env: env(), secrets: SECRETS });
    expect(rest.code).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ moved: total, failed: 0 });
    expect(await raw.keys("old3:*")).toEqual([]);
  });
});

describe("export and import", () => {
  it("exports sealed sessions with their expiry, and imports them under another prefix only with the keys", async () => {
    const source = store({ prefix: "e1:", encryptionKeys: [{ id: "k1", key: KEY }], userIdFrom: (data) => data.user as string });
    for (let i = 0; i < 5; i++) await source.set(`x${i}`, { user: "lin", secret: "launch codes" }, { ttlMs: 3_600_000 });
    const file = join(dir, "e1.jsonl");
    const exported = await sessionbridge(["--prefix", "e1:", "export", file], { env: env(), secrets: SECRETS });
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/exported 5 session\(s\) \(5 sealed/);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(JSON.parse(lines[0] as string)).toMatchObject({ format: "sessionbridge-export", version: 1, prefix: "e1:" });
    expect(lines).toHaveLength(6);
    expect(readFileSync(file, "utf8")).not.toContain("launch codes"); // sealed without the keys
    const twice = await sessionbridge(["--prefix", "e1:", "export", file], { env: env(), secrets: SECRETS });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/e1\.jsonl: cannot create it \(it exists/);

    // As if the backup was restored 50 minutes later: the first session has 10 minutes left, not an hour.
    const first = JSON.parse(lines[1] as string) as { key: string; value: string; expiresAtMs: number };
    first.expiresAtMs = Date.now() + 600_000;
    writeFileSync(file, [lines[0], JSON.stringify(first), ...lines.slice(2)].join("\n"));

    const sealed = await sessionbridge(["--prefix", "e2:", "import", file], { env: env(), secrets: SECRETS });
    expect(sealed.code).toBe(1);
    expect(sealed.stdout).toMatch(/imported 0 session\(s\).*sealed for another key 5/);

    const imported = await sessionbridge(["--prefix", "e2:", "--json", "import", file], { env: env({ SESSIONBRIDGE_ENCRYPTION_KEYS: KEYS }), secrets: SECRETS });
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ imported: 5, exists: 0 });
    const target = store({ prefix: "e2:", encryptionKeys: [{ id: "k1", key: KEY }] });
    expect(await target.sessionsOf("lin")).toHaveLength(5); // in the per-user index too
    const pttl = await raw.pttl(`e2:${first.key}`);
    expect(pttl).toBeLessThanOrEqual(600_000); // the expiry it had in the file, not a fresh TTL (an hour)
    expect(pttl).toBeGreaterThan(0);
    expect(await target.get(first.key)).toEqual({ user: "lin", secret: "launch codes" });

    const again = await sessionbridge(["--prefix", "e2:", "--json", "import", file], { env: env({ SESSIONBRIDGE_ENCRYPTION_KEYS: KEYS }), secrets: SECRETS });
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 0, exists: 5 });
  });

  it("removes its file when Ctrl-C stops an export half way, at once even while the server answers nothing", async () => {
    const source = store({ prefix: "e5:" });
    for (let i = 0; i < 5; i++) await source.set(`z${i}`, { n: i }, { ttlMs: 3_600_000 });
    const file = join(dir, "e5.jsonl");
    const created = fileAppears(dir, "e5.jsonl");
    // Paused, the server answers nothing: the export has created its file and waits on the listing.
    redis.pause();
    const run = startSessionbridge(["--prefix", "e5:", "--timeout-ms", "60000", "export", file], env());
    try {
      let said = "";
      const reported = new Promise<void>((resolve) => run.child.stderr?.on("data", (chunk: Buffer) => (said += chunk.toString()).includes("interrupted by SIGINT") && resolve()));
      await created;
      run.child.kill("SIGINT");
      await Promise.race([reported, run.done]);
    } finally {
      // Resumed once the export has stopped: the connection it closed then ends without waiting for the server.
      redis.resume();
    }
    const stopped = await run.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/incomplete export \(interrupted\) removed/);
    expect(stopped.stderr).toMatch(/interrupted by SIGINT before the export finished/);
    expect(existsSync(file)).toBe(false);
  });

  it("stops quietly, like cat, when its reader closes stdout early (export | head -1): exit 141, nothing on stderr", async () => {
    const source = store({ prefix: "e6:" });
    // 300 sessions of 2 kB overfill the pipe: the export is still writing when its reader goes away.
    for (let i = 0; i < 300; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => source.set(`p${i + j}`, { pad: "x".repeat(2000) }, { ttlMs: 3_600_000 })));
    const exporting = startSessionbridge(["--prefix", "e6:", "export"], env());
    const firstLine = await new Promise<string>((resolve) => {
      let text = "";
      exporting.child.stdout?.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
      });
    });
    exporting.child.stdout?.destroy(); // what head does after its line
    // A command that prints one line at the end, to a reader already gone.
    const counting = startSessionbridge(["--prefix", "e6:", "count"], env());
    counting.child.stdout?.destroy();
    const [exported, counted] = await Promise.all([exporting.done, counting.done]);
    expect(JSON.parse(firstLine)).toMatchObject({ format: "sessionbridge-export" });
    expect(exported).toMatchObject({ code: 141, stderr: "" });
    expect(counted).toMatchObject({ code: 141, stderr: "" });
  });

  it("decrypts only when asked and given the keys; refuses a file that is not an export", async () => {
    const source = store({ prefix: "e3:", encryptionKeys: [{ id: "k1", key: KEY }] });
    await source.set("y", { note: "visible" });
    const clear = await sessionbridge(["--prefix", "e3:", "export", "--decrypt", "-"], { env: env({ SESSIONBRIDGE_ENCRYPTION_KEYS: KEYS }), secrets: SECRETS });
    expect(clear.code).toBe(0);
    expect(clear.stdout).toContain("visible");
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"format":"sessionbridge-export","version":1,"prefix":"e3:"}\n{"key":1}\n');
    const run = await sessionbridge(["--prefix", "e4:", "import", bad], { env: env(), secrets: SECRETS });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/bad\.jsonl line 2: expected \{ "key", "value", "expiresAtMs" \}/);
  });
});
