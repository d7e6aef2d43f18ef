import type session from "express-session";
import type { SessionStore } from "@sessionbridge/core";

// The express adapter, loaded by name through the test aliases. Not a declared dependency: the express
// package depends on this one for its tests, and a dependency back would make a cycle in the workspace.
const adapter = "@sessionbridge/express";

export const { createExpressStore } = (await import(/* @vite-ignore */ adapter)) as { createExpressStore: (store: SessionStore) => session.Store };
