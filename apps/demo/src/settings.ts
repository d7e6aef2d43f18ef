import { randomBytes } from "node:crypto";
import { SessionStoreError } from "@sessionbridge/core";
import type { Framework } from "./instance-info.js";

/**
 * Everything the demo reads from the environment, validated once at start-up. A bad value stops the
 * demo with a message naming the variable and what it accepts; secrets are never echoed.
 */
export interface DemoSettings {
  /** `SESSION_STORE_URL`: redis://, rediss:// or memcached://. Undefined: an embedded default. */
  storeUrl: string | undefined;
  /** `PORT`: the balancer's port (the URL to open). Default 3000; 0 picks a free one. */
  port: number;
  /** `HOST`: the balancer's address. Default 127.0.0.1; 0.0.0.0 lets a phone on your network try it. */
  host: string;
  /** `DEMO_INSTANCES`: comma-separated frameworks, one instance each. Default `express,fastify,koa`. */
  instances: Framework[];
  /** `SESSION_SECRET`: signs the session cookie (32+ characters). Default: random per run, so a restart logs everyone out. */
  secret: string;
  /** `SESSION_TTL_MS`: idle timeout of a session in milliseconds. Default 1 800 000 (30 minutes). */
  ttlMs: number;
  /** `SESSION_TIMEOUT_MS`: deadline of each store operation in milliseconds. Default 1000. */
  timeoutMs: number;
  /** `DATABASE_URL`: the catalogue's PostgreSQL (postgres:// or postgresql://). Undefined: an embedded PGlite. */
  databaseUrl: string | undefined;
}

const FRAMEWORKS: Record<string, Framework> = { express: "Express", fastify: "Fastify", koa: "Koa" };

function bad(variable: string, accepts: string): SessionStoreError {
  return new SessionStoreError("CONFIG", `environment variable ${variable} must be ${accepts}`);
}

function integer(env: NodeJS.ProcessEnv, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw bad(variable, `a whole number between ${min} and ${max}`);
  return value;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): DemoSettings {
  const storeUrl = env.SESSION_STORE_URL || undefined;
  if (storeUrl !== undefined && !/^(redis|rediss|memcached|memory):\/\//i.test(storeUrl)) {
    throw bad("SESSION_STORE_URL", "a URL starting with redis://, rediss://, memcached:// or memory://");
  }
  const instances = (env.DEMO_INSTANCES || "express,fastify,koa").split(",").map((name) => FRAMEWORKS[name.trim().toLowerCase()]);
  if (instances.length === 0 || instances.some((framework) => framework === undefined)) {
    throw bad("DEMO_INSTANCES", "a comma-separated list of express, fastify and koa (e.g. express,fastify,koa,express)");
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw bad("DATABASE_URL", "a URL starting with postgres:// or postgresql://");
  }
  const secret = env.SESSION_SECRET || randomBytes(32).toString("base64url");
  // @fastify/session refuses shorter secrets; the same rule for all keeps the cookie shared.
  if (secret.length < 32) throw bad("SESSION_SECRET", "at least 32 characters long");
  return {
    storeUrl,
    port: integer(env, "PORT", 3000, 0, 65_535),
    host: env.HOST || "127.0.0.1",
    instances: instances as Framework[],
    secret,
    ttlMs: integer(env, "SESSION_TTL_MS", 30 * 60_000, 1000, 400 * 24 * 3600 * 1000),
    timeoutMs: integer(env, "SESSION_TIMEOUT_MS", 1000, 1, 600_000),
    databaseUrl,
  };
}
