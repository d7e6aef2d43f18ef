import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../src/wait.js";
import { freePort, startProcess, startRedis, type ManagedProcess, type RedisServer } from "../src/index.js";

/**
 * Every code example of the root README and of packages/*\/README.md, verbatim, as a TypeScript user
 * would paste it into a project that installed the packages: type-checked against the built packages
 * (dist d.ts, through their package.json "exports") with `strict` and `skipLibCheck: false`, once with
 * `moduleResolution: node16` and once with `bundler`; then each example that says "run:" is run (tsx)
 * against a real redis-server, and its HTTP app is asked twice for its page. Needs `pnpm build`.
 */
const root = fileURLToPath(new URL("../../../", import.meta.url));
const here = fileURLToPath(new URL("..", import.meta.url));
const workDir = join(here, ".tmp", "readme-examples");
const require = createRequire(import.meta.url);
const run = promisify(execFile);

interface Example {
  readme: string;
  line: number;
  lang: string;
  code: string;
  file: string;
}

function readmes(): string[] {
  const packages = readdirSync(join(root, "packages"), { withFileTypes: true }).filter((entry) => entry.isDirectory());
  const files = [join(root, "README.md"), ...packages.map((entry) => join(root, "packages", entry.name, "README.md"))];
  return files.filter((file) => {
    try {
      readFileSync(file);
      return true;
    } catch {
      return false;
    }
  });
}

function examplesOf(readme: string): Example[] {
  const lines = readFileSync(readme, "utf8").split("\n");
  const found: Example[] = [];
  const name = relative(root, readme).replace(/\/?README\.md$/, "").replace(/[/]/g, "-") || "root";
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i] as string);
    if (open === null) continue;
    const end = lines.indexOf("```", i + 1);
    const lang = open[1] as string;
    if (["ts", "typescript", "js", "javascript", "mjs"].includes(lang)) {
      found.push({ readme: relative(root, readme), line: i + 1, lang, code: lines.slice(i + 1, end).join("\n") + "\n", file: `${name}-L${i + 1}.mts` });
    }
    i = end;
  }
  return found;
}

const examples = readmes().flatMap(examplesOf);

/** The published packages (packages/<name> without "private": true). */
const published = readdirSync(join(root, "packages")).filter((name) => {
  try {
    const manifest = JSON.parse(readFileSync(join(root, "packages", name, "package.json"), "utf8"));
    // Libraries only: a package that is only a command (@sessionbridge/cli, a bin) has no entry to import.
    return manifest.private !== true && manifest.exports !== undefined;
  } catch {
    return false;
  }
});

// A consumer that imports every entry of every package: their d.ts must compile on their own.
const CONSUMER = `${published.map((name, i) => `import * as entry${i} from "@sessionbridge/${name}";`).join("\n")}
import * as adapter from "@sessionbridge/core/adapter";
export const entries = [adapter, ${published.map((_, i) => `entry${i}`).join(", ")}];
`;

const COMMON = { strict: true, skipLibCheck: false, noEmit: true, target: "ES2022", lib: ["ES2023"], types: ["node"], noUncheckedIndexedAccess: false };
const CONFIGS = {
  node16: { ...COMMON, module: "node16", moduleResolution: "node16" },
  bundler: { ...COMMON, module: "esnext", moduleResolution: "bundler" },
};

let redis: RedisServer;
/** The two tsc runs, started together in beforeAll (2 cores: they overlap); each test awaits its own. */
const checks = new Map<string, Promise<string>>();

function typeCheck(name: string): Promise<string> {
  const tsc = require.resolve("typescript/bin/tsc");
  return run(process.execPath, [tsc, "-p", `tsconfig.${name}.json`, "--pretty", "false"], { cwd: workDir, encoding: "utf8" }).then(
    () => "",
    (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? ""}`,
  );
}

beforeAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  // The packages as an application would have them installed (symlinks to the workspace packages, so
  // their package.json "exports" and dist are what resolves). Frameworks resolve from this package.
  mkdirSync(join(workDir, "node_modules", "@sessionbridge"), { recursive: true });
  for (const name of published) symlinkSync(join(root, "packages", name), join(workDir, "node_modules", "@sessionbridge", name), "dir");
  for (const example of examples) writeFileSync(join(workDir, example.file), example.code);
  writeFileSync(join(workDir, "consumer.mts"), CONSUMER);
  for (const [name, compilerOptions] of Object.entries(CONFIGS)) {
    writeFileSync(join(workDir, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, include: ["*.mts"] }, null, 2));
  }
  for (const name of Object.keys(CONFIGS)) checks.set(name, typeCheck(name));
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.dispose();
});

describe("README examples", () => {
  it("are all TypeScript (so each is type-checked)", () => {
    expect(examples.length).toBeGreaterThan(5);
    // Fix: make the block ```ts (strict TypeScript); a complete program says "save as x.mts, run: npx tsx x.mts".
    expect(examples.filter((example) => example.lang !== "ts").map((example) => `${example.readme}:${example.line} is \`\`\`${example.lang}`)).toEqual([]);
  });

  for (const name of Object.keys(CONFIGS)) {
    it(`type-check verbatim with moduleResolution ${name}, strict, skipLibCheck false, against the built packages`, { timeout: 300_000 }, async () => {
      const result = await (checks.get(name) as Promise<string>);
      // Name errors by README and line: "<readme>-L<line>.mts(3,5)" → "<readme>:<line + 3>".
      const located = result.replace(/^([\w.-]+)-L(\d+)\.mts\((\d+),(\d+)\)/gm, (_, readme: string, line: string, row: string, column: string) => `${readme === "root" ? "" : `${readme.replace("-", "/")}/`}README.md:${Number(line) + Number(row)}:${column}`);
      expect(located).toBe("");
    });
  }

  const runnable = examples.filter((example) => /run: npx tsx /.test(example.code));
  it("includes the runnable examples of every README", () => {
    expect(runnable.map((example) => example.readme)).toEqual(expect.arrayContaining(["README.md", "packages/core/README.md", "packages/express/README.md", "packages/fastify/README.md", "packages/koa/README.md"]));
    // An example that says how to save and run it must say it the way this test runs it.
    expect(examples.filter((example) => /save as/.test(example.code) && !runnable.includes(example)).map((example) => `${example.readme}:${example.line}`)).toEqual([]);
  });

  for (const example of runnable) {
    it(`${example.readme}:${example.line} runs verbatim against redis-server`, async () => {
      const tsx = join(dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs");
      const port = await freePort();
      const url = `redis://127.0.0.1:${redis.port}`;
      const env = { ...process.env, SESSION_STORE_URL: url, CACHE_URL: url, PORT: String(port) };
      const child: ManagedProcess = startProcess(process.execPath, [tsx, example.file], { cwd: workDir, env });
      try {
        if (!/\.listen\(/.test(example.code)) {
          expect(await child.exited, child.output()).toBe(0);
          // What the example's comments say it prints ("console.log(…); // <what it prints>").
          const said = [...example.code.matchAll(/console\.log\(.*\);? \/\/ (null|\{ [\w: ]+)/g)].map((match) => match[1] as string);
          for (const text of said) expect(child.output()).toContain(text);
          return;
        }
        const page = `http://127.0.0.1:${port}/`;
        let first: Response | undefined;
        await eventually(`${basename(example.file)} answers`, async () => {
          if (child.child.exitCode !== null) throw new Error(`exited: ${child.output()}`);
          first = await fetch(page);
          return true;
        }, 60_000);
        expect(await first?.text()).toBe("views: 1");
        const cookie = (first?.headers.get("set-cookie") ?? "").split(";")[0] as string;
        expect(cookie).toMatch(/^[\w.-]+=./);
        const second = await fetch(page, { headers: { cookie } });
        expect(await second.text()).toBe("views: 2");
      } finally {
        await child.stop();
      }
    });
  }
});
