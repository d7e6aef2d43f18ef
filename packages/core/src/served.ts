import { AsyncLocalStorage } from "node:async_hooks";
import type { OperationContext, ServedBy } from "./tracing.js";

/**
 * Which server a traced operation reached, told by the backend at the moment it sends a command.
 * The store runs a traced operation inside `observed`; a backend calls `noteServed` for every command,
 * and the last one wins (the server whose answer the operation ended with). Untraced operations never
 * enter the storage: `noteServed` then costs one `getStore()` and builds nothing.
 */
const current = new AsyncLocalStorage<OperationContext>();

export function observed<R>(context: OperationContext, work: () => Promise<R>): Promise<R> {
  return current.run(context, work);
}

/** `address` is a function so the `host:port` string is only built for a traced operation. */
export function noteServed(role: ServedBy["role"], address?: () => string | undefined): void {
  const context = current.getStore();
  if (context === undefined) return;
  const at = address?.();
  context.node = at === undefined ? { role } : { role, address: at };
}
