// WASM `sign` vs native xnonce-core, same inputs, same run:
//  - native: examples/native_sign.rs (cargo, release);
//  - WASM in Node: pkg/node;
//  - WASM in headless Chromium: pkg/web, served by scripts/serve.mjs.
// The machine is shared and its load swings within seconds, so the three are measured in
// ROUNDS back to back (native, Node, Chromium; each the best of 5 batches) and every ratio is
// the median of the per-round ratios. Prints a Markdown table for docs/BENCHMARKS.md
// ("WASM binding").
//
//   npm run build && node bench/bench-sign.mjs [iterations per round] [rounds]
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { cpus, tmpdir } from "node:os";
import { chromium } from "playwright-core";
import { here, serve } from "../scripts/serve.mjs";

const require = createRequire(import.meta.url);
const x = require("../pkg/node/xnonce_wasm.js");
const iterations = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 7);
const INPUT = {
  secret: "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd",
  params: [
    ["username", "alice"],
    ["password", "s3cret pass"],
    ["opt1", "été & co"],
  ],
  options: {
    host: "127.0.0.1:8080",
    timestamp: 1_700_000_000_000,
    nonce: "00112233445566778899aabbccddeeff",
  },
};

/** Best-of-5 ns per call of `sign` for a scheme; runs in Node and, as source, in the page. */
function timeSign(x, scheme, iterations, { secret, params, options }) {
  const call = () => x.sign(scheme, "GET", "/controller1/action1", params, "link-maker", secret, options);
  for (let i = 0; i < iterations / 10; i++) call();
  let best = Infinity;
  for (let b = 0; b < 5; b++) {
    const start = performance.now();
    for (let i = 0; i < iterations / 5; i++) call();
    best = Math.min(best, ((performance.now() - start) * 1e6) / (iterations / 5));
  }
  return { ns: best, header: call() };
}

execFileSync("cargo", ["build", "-q", "--release", "-p", "xnonce-wasm", "--example", "native_sign"], {
  cwd: resolve(here, ".."),
  stdio: ["ignore", "inherit", "inherit"],
});
const targetDir = JSON.parse(
  execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], { cwd: resolve(here, "..") }),
).target_directory;
const nativeRun = () =>
  execFileSync(join(targetDir, "release", "examples", "native_sign"), [String(iterations)])
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const { server, url } = await serve(0);
const profile = mkdtempSync(join(tmpdir(), "xnonce-wasm-bench-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  timeout: 30_000,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const rows = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${url}/test/vectors.html`);
  await page.waitForFunction(() => window.__vectorResult !== undefined, null, { timeout: 30_000 });
  const browserSign = (scheme) =>
    page.evaluate(
      async ([src, scheme, iterations, input]) => {
        const x = await import("/pkg/web/xnonce_wasm.js");
        await x.default();
        return (0, eval)(`(${src})`)(x, scheme, iterations, input);
      },
      [timeSign.toString(), scheme, iterations, INPUT],
    );
  const samples = {};
  for (let round = 0; round < rounds; round++) {
    for (const n of nativeRun()) {
      const node = timeSign(x, n.case, iterations, INPUT);
      const browser = await browserSign(n.case);
      for (const [where, r] of [
        ["Node", node],
        ["Chromium", browser],
      ]) {
        if (r.header !== n.x_nonce) throw new Error(`${n.case} in ${where}: WASM and native headers differ`);
      }
      const s = (samples[n.case] ??= { native: [], node: [], browser: [], nodeRatio: [], browserRatio: [] });
      s.native.push(n.ns_per_op);
      s.node.push(node.ns);
      s.browser.push(browser.ns);
      s.nodeRatio.push(node.ns / n.ns_per_op);
      s.browserRatio.push(browser.ns / n.ns_per_op);
    }
  }
  for (const [scheme, s] of Object.entries(samples)) {
    rows.push({
      scheme,
      native: median(s.native),
      node: median(s.node),
      browser: median(s.browser),
      nodeRatio: median(s.nodeRatio),
      browserRatio: median(s.browserRatio),
    });
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

const sizes = JSON.parse(readFileSync(join(here, "pkg", "size.json"), "utf8"));
const us = (ns) => `${(ns / 1000).toFixed(2)} µs`;
const chromeVersion = execFileSync("/usr/bin/chromium", ["--version"], {
  stdio: ["ignore", "pipe", "ignore"],
})
  .toString()
  .trim();
console.log(
  `Node ${process.version}, ${chromeVersion}, ${cpus()[0]?.model ?? "?"} (${cpus().length} cores), ` +
    `${rounds} rounds, each the best of 5 batches of ${iterations / 5} calls; medians over rounds\n`,
);
console.log(
  "| sign (3 params, fixed time and nonce) | native core | WASM in Node | ratio | WASM in Chromium | ratio |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(
    `| ${r.scheme} | ${us(r.native)} | ${us(r.node)} | ${r.nodeRatio.toFixed(1)}× | ` +
      `${us(r.browser)} | ${r.browserRatio.toFixed(1)}× |`,
  );
}
console.log(
  `\n.wasm: ${sizes.web_bindgen} bytes from wasm-bindgen, ${sizes.web_opt} bytes after wasm-opt -O3`,
);
