import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The built package, resolved by its own name through package.json "exports" (a package can import
// itself), in a plain Node process: what an application or adapter gets from npm. Needs `pnpm build`.
const packageDir = fileURLToPath(new URL("..", import.meta.url));

function node(args: string[]): unknown {
  return JSON.parse(execFileSync(process.execPath, args, { cwd: packageDir, encoding: "utf8" }));
}

const probe = `
  const out = {};
  out.main = Object.keys(main).sort();
  out.adapter = Object.keys(adapter).sort();
  const visible = adapter.withHttpStatus(new main.SessionStoreError("UNAVAILABLE", "down"));
  out.sameClass = visible instanceof main.SessionStoreError;
  out.statusCode = visible.statusCode;
  const request = {};
  const budget = adapter.budgetOf(request);
  out.sameBudget = adapter.budgetOf(request) === budget;
  console.log(JSON.stringify(out));
`;

const INTERNALS = ["SessionTracker", "commitSession", "diff", "budgetOf", "linkBudget", "runWithBudget", "withinBudget", "withHttpStatus", "toCallback", "detachData", "checkMetaOption", "isOutage", "isSessionFailure", "remainingMs", "ttlFromExpiry"];

describe("package entries", () => {
  for (const format of ["esm", "cjs"] as const) {
    it(`${format}: the main entry is the store, backends and errors; adapter internals are on @sessionbridge/core/adapter, sharing one copy of each class`, () => {
      const load =
        format === "esm"
          ? `import * as main from "@sessionbridge/core"; import * as adapter from "@sessionbridge/core/adapter";`
          : `const main = require("@sessionbridge/core"); const adapter = require("@sessionbridge/core/adapter");`;
      const result = node(format === "esm" ? ["--input-type=module", "-e", load + probe] : ["--input-type=commonjs", "-e", load + probe]) as Record<string, unknown>;
      expect(result.main).toEqual(expect.arrayContaining(["createSessionStore", "SessionStoreError", "isSessionStoreError", "redisBackend", "memcachedBackend", "memoryBackend", "jsonSerializer"]));
      for (const name of INTERNALS) {
        expect(result.main, `main entry exports ${name}`).not.toContain(name);
        expect(result.adapter, `adapter subpath lacks ${name}`).toContain(name);
      }
      // Code splitting: the adapter entry's errors are the main entry's class (no second copy).
      expect(result.sameClass).toBe(true);
      expect(result.statusCode).toBe(503);
      expect(result.sameBudget).toBe(true);
    });
  }
});
