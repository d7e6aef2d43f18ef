import { memoryBackend } from "@sessionbridge/core";
import { cacheSuite } from "./suite.js";

// One in-process store stands for the shared backend; each cache gets a view whose close() leaves it open.
const shared = memoryBackend();
cacheSuite({ name: "memory", backend: () => ({ ...shared, close: async () => undefined }) });
