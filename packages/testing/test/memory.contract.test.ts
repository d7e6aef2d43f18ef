import { memoryBackend } from "@sessionbridge/core";
import { backendContract } from "../src/contract.js";

backendContract({ name: "memory", backend: () => memoryBackend() });
