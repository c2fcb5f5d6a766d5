// WASM `sign` in Node vs native xnonce-core, same inputs, same run.
// Builds and runs examples/native_sign.rs (release), then times pkg/node's `sign`.
// Prints a Markdown table (for docs/BENCHMARKS.md, section "WASM binding").
//
//   npm run build && node bench/bench-sign.mjs [iterations]
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cpus } from "node:os";
import { here } from "../scripts/serve.mjs";

const require = createRequire(import.meta.url);
const x = require("../pkg/node/xnonce_wasm.js");
const iterations = Number(process.argv[2] ?? 200_000);
const SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
const PARAMS = [
  ["username", "alice"],
  ["password", "s3cret pass"],
  ["opt1", "été & co"],
];
const OPTIONS = {
  host: "127.0.0.1:8080",
  timestamp: 1_700_000_000_000,
  nonce: "00112233445566778899aabbccddeeff",
};

const native = execFileSync(
  "cargo",
  ["run", "-q", "--release", "-p", "xnonce-wasm", "--example", "native_sign", "--", String(iterations)],
  { cwd: resolve(here, ".."), stdio: ["ignore", "pipe", "inherit"] },
)
  .toString()
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));

function time(fn) {
  for (let i = 0; i < iterations / 10; i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

const rows = [];
for (const n of native) {
  const call = () => x.sign(n.case, "GET", "/controller1/action1", PARAMS, "link-maker", SECRET, OPTIONS);
  if (call() !== n.x_nonce) throw new Error(`${n.case}: WASM and native headers differ`);
  const wasm = time(call);
  rows.push({ case: `${n.case}, fixed time and nonce`, native: n.ns_per_op, wasm });
}
const v2Default = time(() =>
  x.sign("v2", "GET", "/controller1/action1", PARAMS, "link-maker", SECRET, { host: "127.0.0.1:8080" }),
);
rows.push({ case: "v2, Date.now() + crypto.getRandomValues", native: null, wasm: v2Default });

const sizes = JSON.parse(readFileSync(join(here, "pkg", "size.json"), "utf8"));
const us = (ns) => (ns == null ? "—" : `${(ns / 1000).toFixed(2)} µs`);
console.log(
  `Node ${process.version}, ${cpus()[0]?.model ?? "?"} (${cpus().length} cores), ${iterations} calls each\n`,
);
console.log("| case | native core | WASM in Node | WASM / native |");
console.log("| --- | --- | --- | --- |");
for (const r of rows) {
  const ratio = r.native ? `${(r.wasm / r.native).toFixed(2)}×` : "—";
  console.log(`| ${r.case} | ${us(r.native)} | ${us(r.wasm)} | ${ratio} |`);
}
console.log(
  `\n.wasm size: ${sizes.web_bindgen} bytes after wasm-bindgen, ${sizes.web_opt} bytes after wasm-opt -O3`,
);
const worst = Math.max(...rows.filter((r) => r.native).map((r) => r.wasm / r.native));
console.log(`worst WASM/native ratio: ${worst.toFixed(2)}× (target ≤ 3×)`);
if (worst > 3) process.exitCode = 1;
