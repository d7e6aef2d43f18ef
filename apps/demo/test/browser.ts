import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";

/** Where the browser tests leave their screenshots (for a person to look at; nothing reads them back). */
export const artifacts = fileURLToPath(new URL("../test-artifacts/", import.meta.url));

/** Headless, and none of the background traffic (updates, sync) a first run of Chromium starts. */
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/** Debian's Chromium for a browser test; `artifacts` exists once it resolves. */
export function launchChromium(): Promise<Browser> {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}
