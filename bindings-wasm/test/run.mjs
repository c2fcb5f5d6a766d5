// npm test: Node checks, then real headless Chromium (vectors + the end-to-end link test).
import { nodeTests } from "./node.mjs";
import { browserTests } from "./browser.mjs";
import { summary } from "./harness.mjs";

const LIMIT_MS = Number(process.env.XNONCE_WASM_TEST_TIMEOUT_MS ?? 300_000);
setTimeout(() => {
  console.log(`FAIL the whole run took longer than ${LIMIT_MS} ms`);
  process.exit(1);
}, LIMIT_MS).unref();

await nodeTests();
await browserTests();
process.exit(summary());
