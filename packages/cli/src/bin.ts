#!/usr/bin/env node
import { watchOutput } from "./output.js";
import { main } from "./program.js";

watchOutput();

// process.exitCode, not process.exit(): stdout (a pipe, an export) is flushed before the process ends.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
