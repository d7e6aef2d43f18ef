import type { SessionStore } from "@sessionbridge/core";
import { print } from "../output.js";

/** `sessionbridge sessions <user>`: the user's live sessions from the per-user index, newest first (never their ids). */
export async function sessions(store: SessionStore, user: string, json: boolean): Promise<void> {
  const list = await store.sessionsOf(user);
  if (json) {
    print(JSON.stringify(list));
    return;
  }
  if (list.length === 0) {
    print(`no live sessions for user "${user}"`);
    return;
  }
  print(["handle", "created", "last seen", "expires", "meta"].join("\t"));
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const session of list) {
    const meta = session.meta === undefined ? "" : Object.entries(session.meta).map(([name, value]) => `${name}=${value}`).join(" ");
    print([session.handle, iso(session.createdAtMs), iso(session.lastSeenAtMs), iso(session.expiresAtMs), meta].join("\t"));
  }
}

/** `sessionbridge revoke <user> [--except id]`: destroys every session of the user but the ones named. */
export async function revoke(store: SessionStore, user: string, except: readonly string[], json: boolean): Promise<void> {
  const revoked = await store.destroySessionsOf(user, { except });
  print(json ? JSON.stringify({ user, revoked }) : `revoked ${revoked} session(s) of user "${user}"${except.length > 0 ? ` (kept ${except.length})` : ""}`);
}
