import { defineConfig } from "vitest/config";
import { sharedTestOptions, workspaceAliases } from "../../vitest.shared.ts";

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: { ...sharedTestOptions, include: ["test/**/*.test.ts"] },
});
