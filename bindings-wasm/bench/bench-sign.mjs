// WASM `sign` vs native xnonce-core, same inputs, same run:
//  - native: examples/native_sign.rs (cargo, release);
//  - WASM in Node: pkg/node;
//  - WASM in headless Chromium: pkg/web, served by scripts/serve.mjs.
// The machine is shared and its load swings within seconds, so the three are measured in
// ROUNDS back to back (native, Node, Chromium; each the best of 5 batches) and every ratio is
// the median of the per-round ratios.
//
// Besides the two `sign` rows it measures what bounds the ratio from below, in the same rounds:
//  - SHA-256 per 64-byte block: `sign` v2 with a 64 KiB body minus `sign` v2 without one,
//    divided by the 1024 blocks of the body digest (native: sha2 with the CPU's SHA
//    extensions; WASM: core's portable SHA-256). In WASM this includes copying the body into
//    the module's memory (a memcpy, ~1 % of it).
//  - the JS side of one call: the package's `sign` with the WebAssembly call replaced by a
//    stub that answers the previous header's length (joining and encoding the inputs, writing
//    them into wasm memory, reading the header back): what remains with no work in wasm.
//  - the number of SHA-256 compressions per case (from the canonical string's length), and
//    the lower bound (compressions × WASM block + JS side) / native sign.
// Prints Markdown tables for docs/BENCHMARKS.md ("WASM binding").
//
//   npm run build && node bench/bench-sign.mjs [iterations per round] [rounds]
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { cpus, loadavg, tmpdir } from "node:os";
import { chromium } from "playwright-core";
import { here, serve } from "../scripts/serve.mjs";

const require = createRequire(import.meta.url);
const x = require("../pkg/node/xnonce_wasm.js");
const glue = require("../pkg/node/xnonce_wasm_bindgen.js");
const { fastSign } = require("../pkg/node/fast_sign.js");
const iterations = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 15);
const BODY_LEN = 65536; // as examples/native_sign.rs
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

/**
 * Best-of-5 ns per call for one case (`v1`, `v2`, `v2-body`; `stub:v1`, `stub:v2` time the JS
 * side only). Runs in Node and, as source, in the page: `x` is the package, `glue` wasm-bindgen's
 * module, `fastSign` the package's fast path (js/fast_sign.js).
 */
function timeCase(x, glue, fastSign, name, iterations, { secret, params, options }, bodyLen) {
  const stub = name.startsWith("stub:");
  const scheme = name.replace("stub:", "").replace("-body", "");
  const opts = { ...options };
  if (name.endsWith("-body")) opts.body = Uint8Array.from({ length: bodyLen }, (_, i) => i & 255);
  const args = [scheme, "GET", "/controller1/action1", params, "link-maker", secret, opts];
  const real = x.sign(...args);
  // The stub answers the length of the header still in the module's header buffer, and writes
  // into the package's input buffer without ever growing (moving) it: packedInput(0).
  const stubbed = { ...glue, packedInput: () => glue.packedInput(0), signPackedInput: () => real.length };
  const sign = stub ? fastSign(x.sign, stubbed) : x.sign;
  const call = () => sign(...args);
  if (stub && call() !== real) throw new Error("stubbed call did not read the header back");
  const n = name.endsWith("-body") ? Math.max(5, iterations / 100) : iterations;
  for (let i = 0; i < n / 10; i++) call();
  // Whole calls per batch, and the time divided by the calls made (n / 5 may be fractional).
  const batch = Math.max(1, Math.floor(n / 5));
  let best = Infinity;
  for (let b = 0; b < 5; b++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) call();
    best = Math.min(best, ((performance.now() - start) * 1e6) / batch);
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
  Object.fromEntries(
    execFileSync(join(targetDir, "release", "examples", "native_sign"), [String(iterations)])
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .map((r) => [r.case, r]),
  );
// The middle value, or the mean of the two middle values of an even count.
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** The middle half of per-round values (25th–75th percentile): how much the load moved them. */
const quartiles = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return `${s[Math.floor((s.length - 1) / 4)].toFixed(1)}–${s[Math.ceil((3 * (s.length - 1)) / 4)].toFixed(1)}`;
};

/** SHA-256 compressions of one `sign`, from the canonical string's length. */
function compressions(scheme) {
  const { secret, params, options } = INPUT;
  const c = x.signDetailed(scheme, "GET", "/controller1/action1", params, "link-maker", secret, options);
  const bytes = new TextEncoder().encode(c.canonical).length;
  const blocks = (n) => Math.ceil((n + 9) / 64); // message + 0x80 + 64-bit length, in blocks
  // v1: one SHA-256 of the canonical string. v2: the HMAC key schedule (two blocks, the Secret
  // is made per call), the inner hash after its key block, the outer hash after its key block.
  return scheme === "v1" ? blocks(bytes) : 2 + (blocks(64 + bytes) - 1) + (blocks(64 + 32) - 1);
}

const CASES = ["v1", "v2", "v2-body", "stub:v1", "stub:v2"];
const started = new Date().toISOString().slice(0, 16).replace("T", " ");
const load = [loadavg()[0]];
const { server, url } = await serve(0);
const profile = mkdtempSync(join(tmpdir(), "xnonce-wasm-bench-"));
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  timeout: 30_000,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  // Chromium's crash database goes to $XDG_CONFIG_HOME/chromium whatever the profile: kept in
  // the run's own folder, not the user's ~/.config.
  env: { ...process.env, XDG_CONFIG_HOME: join(profile, "xdg") },
});
const samples = {}; // samples[measure][where] = [per round]
const push = (measure, where, v) => ((samples[measure] ??= {})[where] ??= []).push(v);
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${url}/test/vectors.html`);
  await page.waitForFunction(() => window.__vectorResult !== undefined, null, { timeout: 30_000 });
  const browserCase = (name) =>
    page.evaluate(
      async ([src, name, iterations, input, bodyLen]) => {
        const x = await import("/pkg/web/xnonce_wasm.js");
        await x.default();
        const glue = await import("/pkg/web/xnonce_wasm_bindgen.js");
        const { fastSign } = await import("/pkg/web/fast_sign.js");
        return (0, eval)(`(${src})`)(x, glue, fastSign, name, iterations, input, bodyLen);
      },
      [timeCase.toString(), name, iterations, INPUT, BODY_LEN],
    );
  for (let round = 0; round < rounds; round++) {
    const native = nativeRun();
    const node = {};
    const browser = {};
    for (const name of CASES) {
      node[name] = timeCase(x, glue, fastSign, name, iterations, INPUT, BODY_LEN);
      browser[name] = await browserCase(name);
      const want = native[name.replace("stub:", "")].x_nonce;
      for (const [where, r] of [
        ["Node", node[name]],
        ["Chromium", browser[name]],
      ]) {
        if (r.header !== want) throw new Error(`${name} in ${where}: WASM and native headers differ`);
      }
    }
    for (const scheme of ["v1", "v2"]) {
      push(scheme, "native", native[scheme].ns_per_op);
      push(scheme, "node", node[scheme].ns);
      push(scheme, "browser", browser[scheme].ns);
      push(scheme, "nodeRatio", node[scheme].ns / native[scheme].ns_per_op);
      push(scheme, "browserRatio", browser[scheme].ns / native[scheme].ns_per_op);
      push(`stub:${scheme}`, "node", node[`stub:${scheme}`].ns);
      push(`stub:${scheme}`, "browser", browser[`stub:${scheme}`].ns);
    }
    const perBlock = (body, plain) => (body - plain) / (BODY_LEN / 64);
    push("block", "native", perBlock(native["v2-body"].ns_per_op, native.v2.ns_per_op));
    push("block", "node", perBlock(node["v2-body"].ns, node.v2.ns));
    push("block", "browser", perBlock(browser["v2-body"].ns, browser.v2.ns));
    push("block", "nodeRatio", perBlock(node["v2-body"].ns, node.v2.ns) / samples.block.native.at(-1));
    push(
      "block",
      "browserRatio",
      perBlock(browser["v2-body"].ns, browser.v2.ns) / samples.block.native.at(-1),
    );
    for (const scheme of ["v1", "v2"]) {
      const k = compressions(scheme);
      const nat = native[scheme].ns_per_op;
      push(`bound:${scheme}`, "node", (k * samples.block.node.at(-1) + node[`stub:${scheme}`].ns) / nat);
      push(
        `bound:${scheme}`,
        "browser",
        (k * samples.block.browser.at(-1) + browser[`stub:${scheme}`].ns) / nat,
      );
    }
    load.push(loadavg()[0]);
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

const m = (measure, where) => median(samples[measure][where]);
const q = (measure, where) => quartiles(samples[measure][where]);
const sizes = JSON.parse(readFileSync(join(here, "pkg", "size.json"), "utf8"));
const us = (ns) => `${(ns / 1000).toFixed(2)} µs`;
const chromeVersion = execFileSync(chromiumPath, ["--version"], {
  stdio: ["ignore", "pipe", "ignore"],
})
  .toString()
  .trim();
console.log(
  `${started} UTC, Node ${process.version}, ${chromeVersion}, ${cpus()[0]?.model ?? "?"} (${cpus().length} cores), ` +
    `load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}; ${rounds} rounds, ` +
    `each the best of 5 batches of ${Math.max(1, Math.floor(iterations / 5))} calls; medians over rounds\n`,
);
console.log(
  "| sign (3 params, fixed time and nonce) | native core | WASM in Node | ratio (middle half of rounds) | WASM in Chromium | ratio (middle half) |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const s of ["v1", "v2"]) {
  console.log(
    `| ${s} | ${us(m(s, "native"))} | ${us(m(s, "node"))} | **${m(s, "nodeRatio").toFixed(1)}×** (${q(s, "nodeRatio")}) | ` +
      `${us(m(s, "browser"))} | **${m(s, "browserRatio").toFixed(1)}×** (${q(s, "browserRatio")}) |`,
  );
}
console.log("\n| what bounds the ratio | native core | WASM in Node | WASM in Chromium |");
console.log("| --- | ---: | ---: | ---: |");
console.log(
  `| SHA-256, one 64-byte block | ${m("block", "native").toFixed(0)} ns | ${m("block", "node").toFixed(0)} ns ` +
    `(${m("block", "nodeRatio").toFixed(1)}×) | ${m("block", "browser").toFixed(0)} ns (${m("block", "browserRatio").toFixed(1)}×) |`,
);
for (const s of ["v1", "v2"]) {
  console.log(
    `| ${s}: JS side of one call (wasm call stubbed) | — | ${us(m(`stub:${s}`, "node"))} | ${us(m(`stub:${s}`, "browser"))} |`,
  );
}
for (const s of ["v1", "v2"]) {
  console.log(
    `| ${s}: ${compressions(s)} compressions × WASM block + JS side, / native sign | — | ` +
      `≥ ${m(`bound:${s}`, "node").toFixed(1)}× (${q(`bound:${s}`, "node")}) | ` +
      `≥ ${m(`bound:${s}`, "browser").toFixed(1)}× (${q(`bound:${s}`, "browser")}) |`,
  );
}
console.log(
  `\n.wasm: ${sizes.web_bindgen} bytes from wasm-bindgen, ${sizes.web_opt} bytes after wasm-opt -O3`,
);
