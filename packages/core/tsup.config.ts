import { defineConfig } from "tsup";

export default defineConfig({
  // Three entries (the main one, the adapter subpath and the tools subpath) with code splitting, so each build (ESM, CJS)
  // holds one copy of every module: an error made through one entry is an instance of the other's class,
  // and request budgets linked through one are found through the other.
  entry: { index: "src/index.ts", adapter: "src/adapter.ts", tools: "src/tools.ts" },
  format: ["esm", "cjs"],
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
});
