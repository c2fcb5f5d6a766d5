// npm test: Node checks, then real headless Chromium (vectors + the end-to-end link test).
// `node test/run.mjs --vectors-only`: only the two vector checks (Node, Chromium), for the
// extra-vectors hook check (conformance/hook/check.sh).
import { nodeTests } from "./node.mjs";
import { browserTests } from "./browser.mjs";
import { summary } from "./harness.mjs";

const LIMIT_MS = Number(process.env.XNONCE_WASM_TEST_TIMEOUT_MS ?? 300_000);
setTimeout(() => {
  console.log(`FAIL the whole run took longer than ${LIMIT_MS} ms`);
  process.exit(1);
}, LIMIT_MS).unref();

const vectorsOnly = process.argv.includes("--vectors-only");
await nodeTests({ vectorsOnly });
await browserTests({ vectorsOnly });
process.exit(summary());
