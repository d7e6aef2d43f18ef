import { SessionStoreError, type Backend } from "@sessionbridge/core";
import { burnPasswordCheck, hashPassword, verifyPassword } from "./passwords.js";

/**
 * Demo accounts, kept in the same backend as the sessions but in their own key space (`demo:user:`),
 * so every instance sees every account and nothing but the backend holds state. This talks to the
 * Backend contract directly because it needs a create-only write (SET NX / memcached add) to make
 * "username taken" race-free; it puts its own deadline on each call, as the store does.
 */
export interface User {
  /** The stable id used for the per-user session index. */
  id: string;
  username: string;
  displayName: string;
  passwordHash: string;
  createdAtMs: number;
}

export interface PublicUser {
  id: string;
  username: string;
  displayName: string;
}

export type SignUpResult = { ok: true; user: PublicUser } | { ok: false; problem: string };

const KEY_PREFIX = "demo:user:";
/** Demo accounts live 30 days after their last login (memcached's longest relative TTL). */
const USER_TTL_MS = 30 * 24 * 3600 * 1000;
const USERNAME = /^[a-z0-9][a-z0-9_.-]{2,31}$/;

export function normalizeUsername(raw: string): string {
  return raw.trim().toLowerCase();
}

export function validateSignUp(username: string, password: string, displayName: string): string | null {
  if (!USERNAME.test(username)) return "Usernames are 3–32 characters: letters, digits, dot, dash or underscore.";
  if (password.length < 8) return "Passwords need at least 8 characters.";
  if (password.length > 200) return "Passwords can have at most 200 characters.";
  return validateDisplayName(displayName);
}

export function validateDisplayName(displayName: string): string | null {
  const trimmed = displayName.trim();
  if (trimmed.length === 0 || trimmed.length > 60) return "Display names are 1–60 characters.";
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) return "Display names cannot contain control characters.";
  return null;
}

export class UserRepository {
  constructor(
    private readonly backend: Backend,
    private readonly timeoutMs: number,
  ) {}

  async signUp(rawUsername: string, password: string, displayName: string): Promise<SignUpResult> {
    const username = normalizeUsername(rawUsername);
    const problem = validateSignUp(username, password, displayName);
    if (problem !== null) return { ok: false, problem };
    const user: User = { id: username, username, displayName: displayName.trim(), passwordHash: await hashPassword(password), createdAtMs: Date.now() };
    const result = await this.bounded("create user", this.backend.set(KEY_PREFIX + username, JSON.stringify(user), USER_TTL_MS, { kind: "absent" }));
    if (result !== "ok") return { ok: false, problem: "That username is taken." };
    return { ok: true, user: toPublic(user) };
  }

  /** The user when the password matches, else null (same answer, same time, for unknown users). */
  async logIn(rawUsername: string, password: string): Promise<PublicUser | null> {
    const username = normalizeUsername(rawUsername);
    const user = USERNAME.test(username) ? await this.find(username) : null;
    if (user === null) {
      await burnPasswordCheck(password);
      return null;
    }
    if (!(await verifyPassword(password, user.passwordHash))) return null;
    await this.bounded("refresh user", this.backend.touch(KEY_PREFIX + username, USER_TTL_MS));
    return toPublic(user);
  }

  async rename(username: string, displayName: string): Promise<string | null> {
    const problem = validateDisplayName(displayName);
    if (problem !== null) return problem;
    const user = await this.find(username);
    if (user === null) return "Your account no longer exists.";
    user.displayName = displayName.trim();
    // "exists": an account deleted meanwhile is not brought back.
    await this.bounded("update user", this.backend.set(KEY_PREFIX + username, JSON.stringify(user), USER_TTL_MS, { kind: "exists" }));
    return null;
  }

  private async find(username: string): Promise<User | null> {
    const text = await this.bounded("read user", this.backend.get(KEY_PREFIX + username));
    if (text === null) return null;
    try {
      const user = JSON.parse(text) as User;
      return typeof user.passwordHash === "string" && typeof user.id === "string" ? user : null;
    } catch {
      return null;
    }
  }

  private bounded<T>(what: string, work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SessionStoreError("TIMEOUT", `${this.backend.label}: ${what} did not finish within ${this.timeoutMs} ms`, { backend: this.backend.label })), this.timeoutMs);
    });
    work.catch(() => undefined);
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }
}

function toPublic(user: User): PublicUser {
  return { id: user.id, username: user.username, displayName: user.displayName };
}
