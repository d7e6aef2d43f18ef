import { memoryBackend } from "@sessionbridge/core";
import { backendContract } from "../src/contract.js";
import { limitsContract } from "../src/contract-limits.js";

backendContract({ name: "memory", backend: () => memoryBackend(), pubsubScope: "backend" });
limitsContract({ name: "memory", backend: () => memoryBackend(), shared: false });
