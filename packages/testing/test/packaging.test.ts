import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

/**
 * What npm users download: each published package packed with `pnpm pack` (as a release would), its
 * tarball's files and package.json checked. And `engines` checked against what the package pulls in.
 * Needs `pnpm build` (the tarballs carry dist/).
 */
const root = fileURLToPath(new URL("../../../", import.meta.url));
const run = promisify(execFile);
const REPOSITORY = "https://github.com/sessionbridge/sessionbridge";

interface PackageJson {
  name: string;
  private?: boolean;
  license?: string;
  engines?: { node?: string };
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  exports?: Record<string, unknown>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readJson(file: string): PackageJson {
  return JSON.parse(readFileSync(file, "utf8")) as PackageJson;
}

const published = readdirSync(join(root, "packages"))
  .filter((name) => existsSync(join(root, "packages", name, "package.json")))
  .filter((name) => readJson(join(root, "packages", name, "package.json")).private !== true);

/** Every file path named in an "exports" map (conditions nested any depth). */
function exportedFiles(exports: unknown): string[] {
  if (typeof exports === "string") return [exports];
  if (exports === null || typeof exports !== "object") return [];
  return Object.values(exports).flatMap(exportedFiles);
}

/** pnpm as the workspace runs it (npm_execpath under `pnpm test`), else the one on PATH. */
function pnpm(args: string[], cwd: string) {
  const execpath = process.env.npm_execpath;
  if (execpath !== undefined && /pnpm/.test(execpath)) return run(process.execPath, [execpath, ...args], { cwd, encoding: "utf8" });
  return run("pnpm", args, { cwd, encoding: "utf8" });
}

const out = mkdtempSync(join(tmpdir(), "sessionbridge-pack-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("published packages", () => {
  it("are found", () => {
    expect(published).toEqual(expect.arrayContaining(["core", "express", "fastify", "koa"]));
  });

  for (const name of published) {
    it(`@sessionbridge/${name}: the tarball has LICENSE, README, dist with ESM, CJS and d.ts for every export (or its bin), and repository / homepage / bugs`, { timeout: 120_000 }, async () => {
      const dir = join(root, "packages", name);
      const dest = join(out, name);
      await pnpm(["pack", "--pack-destination", dest], dir);
      const tarball = join(dest, readdirSync(dest).find((file) => file.endsWith(".tgz")) as string);
      const { stdout: listing } = await run("tar", ["-tzf", tarball], { encoding: "utf8" });
      const files = new Set(listing.split("\n").filter(Boolean));

      // In the package itself too, not only the copy pnpm pack takes from the workspace root: any packer ships it.
      expect(existsSync(join(dir, "LICENSE")), `packages/${name}/LICENSE is missing: copy the root LICENSE there and list "LICENSE" in "files"`).toBe(true);
      expect(readFileSync(join(dir, "LICENSE"), "utf8")).toBe(readFileSync(join(root, "LICENSE"), "utf8"));
      expect(files).toContain("package/LICENSE");
      const { stdout: license } = await run("tar", ["-xzOf", tarball, "package/LICENSE"], { encoding: "utf8" });
      expect(license).toBe(readFileSync(join(root, "LICENSE"), "utf8"));
      expect(license).toMatch(/^MIT License/);
      expect(files).toContain("package/README.md");

      const { stdout: manifestText } = await run("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" });
      const manifest = JSON.parse(manifestText) as PackageJson;
      expect(manifest.license).toBe("MIT");
      // Missing? Set them like packages/core/package.json does, with this package's directory.
      expect(manifest.repository).toEqual({ type: "git", url: `git+${REPOSITORY}.git`, directory: `packages/${name}` });
      expect(manifest.homepage).toBe(`${REPOSITORY}/tree/main/packages/${name}#readme`);
      expect(manifest.bugs).toEqual({ url: `${REPOSITORY}/issues` });
      // pnpm pack turns workspace: ranges into versions; a tarball URL or workspace: range must never ship.
      expect(manifestText).not.toMatch(/workspace:|\.tgz/);

      if (manifest.exports === undefined) {
        // A command only (@sessionbridge/cli): its bin files ship, executable with a shebang; there is no entry to import.
        const bins = Object.values(manifest.bin ?? {}).map((file) => `package/${file.replace(/^\.\//, "")}`);
        expect(bins.length, "a package without exports is a command: bin").toBeGreaterThan(0);
        for (const file of bins) expect(files, `${file} (named in "bin")`).toContain(file);
        return;
      }
      const exported = exportedFiles(manifest.exports).map((file) => `package/${file.replace(/^\.\//, "")}`);
      expect(exported.length).toBeGreaterThan(0);
      for (const file of exported) expect(files, `${file} (named in "exports")`).toContain(file);
      for (const file of ["dist/index.js", "dist/index.cjs", "dist/index.d.ts", "dist/index.d.cts"]) expect(files).toContain(`package/${file}`);
    });
  }
});

// ---- engines ----------------------------------------------------------------------------------------

/** The lowest Node version (major, minor) a range admits, for the forms packages use: ">=22", "^20.19 || >=22.12", "20 || >=22". */
export function lowestNode(range: string): [number, number] {
  const bounds = range.split("||").map((alternative) => {
    const match = /(\d+)(?:\.(\d+))?/.exec(alternative);
    if (match === null) return [0, 0] as [number, number];
    return [Number(match[1]), Number(match[2] ?? 0)] as [number, number];
  });
  return bounds.sort((a, b) => a[0] - b[0] || a[1] - b[1])[0] ?? [0, 0];
}

/** The installed copy of `name` as Node would resolve it from `fromDir` (realpath, pnpm layout). */
function installed(fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name, "package.json");
    if (existsSync(candidate)) return realpathSync(dirname(candidate));
    if (dirname(dir) === dir) return undefined;
  }
}

describe("engines", () => {
  it("reads the forms of ranges packages use", () => {
    expect(lowestNode(">=22")).toEqual([22, 0]);
    expect(lowestNode(">= 0.6")).toEqual([0, 6]);
    expect(lowestNode("^20.19.0 || >=22.12.0")).toEqual([20, 19]);
  });

  for (const name of published) {
    it(`@sessionbridge/${name}: engines.node admits no Node version that one of its dependencies (or peers, as installed here) refuses`, () => {
      const dir = join(root, "packages", name);
      const own = readJson(join(dir, "package.json"));
      expect(own.engines?.node, "engines.node").toBeTypeOf("string");
      const ours = lowestNode(own.engines?.node as string);
      const stricter: string[] = [];
      const seen = new Set<string>();
      const queue = [...Object.keys(own.dependencies ?? {}), ...Object.keys(own.peerDependencies ?? {})].map((dep) => [dir, dep] as const);
      while (queue.length > 0) {
        const [from, dep] = queue.shift() as readonly [string, string];
        const at = installed(from, dep);
        if (at === undefined || seen.has(at)) continue;
        seen.add(at);
        const manifest = readJson(join(at, "package.json"));
        const range = manifest.engines?.node;
        if (range !== undefined) {
          const theirs = lowestNode(range);
          if (theirs[0] > ours[0] || (theirs[0] === ours[0] && theirs[1] > ours[1])) stricter.push(`${manifest.name} wants node ${range}`);
        }
        for (const next of Object.keys(manifest.dependencies ?? {})) queue.push([at, next]);
      }
      expect(stricter, `engines.node is "${own.engines?.node}"`).toEqual([]);
    });
  }
});
