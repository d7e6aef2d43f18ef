import type { ChildProcess } from "node:child_process";

/** How long a child the demo started gets to stop after SIGTERM before it is killed. */
const GRACE_MS = 5000;

/**
 * Stops a child process the demo started (an instance, the private redis-server): SIGTERM, then SIGKILL
 * if it is still running after 5 s. Resolves once `exited` (its 'exit') has.
 */
export async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  const force = setTimeout(() => child.kill("SIGKILL"), GRACE_MS);
  await exited;
  clearTimeout(force);
}
