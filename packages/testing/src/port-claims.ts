import { mkdirSync, readdirSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Ports handed out by `freePort`, claimed for the life of the process that asked, across every test
 * process on the machine. The kernel's "free" says only that nothing listens now. A test that stops its
 * server to see the store fail keeps that server's port for the restart, and its store keeps dialling
 * it; if another test file is given the port meanwhile, the first file's store talks to the second
 * file's server (seen in CI: a command-count test found another file's EVALSHA, GET and SET on its
 * server). So a port, once handed out, is not handed out again while its claimant lives: not to
 * another process, and not to the same one (its earlier server's clients may still be dialling).
 *
 * A claim is a file `<port>.<pid>` in one directory under the temporary directory. Each process only
 * creates and removes names with its own pid, and removes other names only when their process has
 * exited, so no process can remove another's live claim.
 */
export const PORT_CLAIMS_DIR = join(tmpdir(), "sessionbridge-port-claims");
const CLAIMS = PORT_CLAIMS_DIR;
let swept = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM"; // exists, owned by someone else
  }
}

/** The claims' names, after removing those of processes that have exited (once per process). */
function claimNames(): string[] {
  mkdirSync(CLAIMS, { recursive: true });
  const names = readdirSync(CLAIMS);
  if (swept) return names;
  swept = true;
  return names.filter((name) => {
    const pid = Number(name.slice(name.indexOf(".") + 1));
    if (pid === process.pid || alive(pid)) return true;
    try {
      unlinkSync(join(CLAIMS, name));
    } catch {
      // another process swept it first
    }
    return false;
  });
}

/**
 * Claims `port` for this process. False when this process or another live one claimed it already (the
 * caller picks another port). Two processes claiming the same port at once may both back off.
 */
export function claimPort(port: number): boolean {
  const names = claimNames();
  const prefix = `${port}.`;
  if (names.some((name) => name.startsWith(prefix) && alive(Number(name.slice(prefix.length))))) return false;
  const mine = join(CLAIMS, `${port}.${process.pid}`);
  writeFileSync(mine, "", { flag: "w" });
  // Someone may have claimed it between our look and our write: then neither keeps it.
  const rivals = readdirSync(CLAIMS).filter((name) => name.startsWith(prefix) && name !== `${port}.${process.pid}` && alive(Number(name.slice(prefix.length))));
  if (rivals.length === 0) return true;
  unlinkSync(mine);
  return false;
}
