import type { BackendEvents } from "../backend.js";

/** The small typed event hub every backend uses for availability events. */
export class BackendEmitter {
  private readonly listeners: { [E in keyof BackendEvents]: Set<BackendEvents[E]> } = {
    unavailable: new Set(),
    available: new Set(),
    error: new Set(),
  };

  on<E extends keyof BackendEvents>(event: E, listener: BackendEvents[E]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  emit<E extends keyof BackendEvents>(event: E, ...args: Parameters<BackendEvents[E]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<BackendEvents[E]>) => void)(...args);
      } catch {
        // A listener's failure must not break the backend.
      }
    }
  }
}
