// Builds pkg/: the wasm (cargo, release, wasm32-unknown-unknown), the JS glue for browsers
// (pkg/web, ES module) and for Node (pkg/node), shrunk by binaryen's wasm-opt, plus
// pkg/package.json (name xnonce-wasm) and pkg/size.json.
//
// The wasm-bindgen CLI must be exactly the wasm-bindgen version in Cargo.lock; it is
// installed once into <target>/tools/wasm-bindgen-<version> when missing.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(here, "..");
const pkg = join(here, "pkg");

function run(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  return execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"], ...opts });
}

function lockedVersion(name) {
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8");
  const m = lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${name}"\\nversion = "([^"]+)"`));
  if (!m) throw new Error(`${name} is not in Cargo.lock`);
  return m[1];
}

const bindgenVersion = lockedVersion("wasm-bindgen");
const pinned = readFileSync(join(here, "Cargo.toml"), "utf8").match(/wasm-bindgen = "=([^"]+)"/);
if (!pinned || pinned[1] !== bindgenVersion) {
  throw new Error(
    `bindings-wasm/Cargo.toml must pin wasm-bindgen = "=${bindgenVersion}" (Cargo.lock's version)`,
  );
}

const meta = JSON.parse(run("cargo", ["metadata", "--no-deps", "--format-version", "1"]));
const targetDir = meta.target_directory;
const toolRoot = join(targetDir, "tools", `wasm-bindgen-${bindgenVersion}`);
const bindgen = join(toolRoot, "bin", "wasm-bindgen");
if (!existsSync(bindgen)) {
  // No --locked: wasm-bindgen-cli's own lock file does not build with this toolchain.
  run("cargo", ["install", "--root", toolRoot, "wasm-bindgen-cli", "--version", bindgenVersion], {
    stdio: "inherit",
  });
}
const got = execFileSync(bindgen, ["--version"]).toString().trim();
if (!got.endsWith(` ${bindgenVersion}`)) throw new Error(`${bindgen} is ${got}, need ${bindgenVersion}`);

// Build the wasm and find the artifact from cargo's own report.
const out = run("cargo", [
  "build",
  "-p",
  "xnonce-wasm",
  "--lib",
  "--release",
  "--target",
  "wasm32-unknown-unknown",
  "--message-format=json-render-diagnostics",
]).toString();
let wasm;
for (const line of out.split("\n")) {
  if (!line.startsWith("{")) continue;
  const msg = JSON.parse(line);
  if (msg.reason === "compiler-artifact" && msg.target?.name === "xnonce_wasm") {
    wasm = msg.filenames.find((f) => f.endsWith(".wasm"));
  }
}
if (!wasm) throw new Error("cargo did not report xnonce_wasm.wasm");

rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });
const wasmOpt = join(here, "node_modules", ".bin", "wasm-opt");
const sizes = { raw: statSync(wasm).size };
for (const [dir, target] of [
  ["web", "web"],
  ["node", "nodejs"],
]) {
  run(bindgen, [wasm, "--out-dir", join(pkg, dir), "--target", target, "--out-name", "xnonce_wasm"]);
  const file = join(pkg, dir, "xnonce_wasm_bg.wasm");
  sizes[`${dir}_bindgen`] = statSync(file).size;
  if (!existsSync(wasmOpt)) throw new Error("wasm-opt missing: run npm install in bindings-wasm");
  run(wasmOpt, [
    "-O3",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
    file,
    "-o",
    file,
  ]);
  sizes[`${dir}_opt`] = statSync(file).size;
}
// wasm-bindgen --target nodejs writes CommonJS; the rest of the package is ESM.
writeFileSync(join(pkg, "node", "package.json"), JSON.stringify({ type: "commonjs" }, null, 2) + "\n");

const version = JSON.parse(run("cargo", ["metadata", "--format-version", "1", "--no-deps"])).packages.find(
  (p) => p.name === "xnonce-wasm",
).version;
const manifest = {
  name: "xnonce-wasm",
  version,
  description:
    "xnonce request signing (em-secure-api v1 and the v2 HMAC scheme) for browsers and Node, in WebAssembly",
  license: "MIT OR Apache-2.0",
  type: "module",
  main: "./node/xnonce_wasm.js",
  module: "./web/xnonce_wasm.js",
  types: "./web/xnonce_wasm.d.ts",
  exports: {
    ".": {
      node: { types: "./node/xnonce_wasm.d.ts", default: "./node/xnonce_wasm.js" },
      default: { types: "./web/xnonce_wasm.d.ts", default: "./web/xnonce_wasm.js" },
    },
    "./web": { types: "./web/xnonce_wasm.d.ts", default: "./web/xnonce_wasm.js" },
    "./node": { types: "./node/xnonce_wasm.d.ts", default: "./node/xnonce_wasm.js" },
    "./web/xnonce_wasm_bg.wasm": "./web/xnonce_wasm_bg.wasm",
  },
  files: ["web/", "node/", "README.md"],
  engines: { node: ">=19" },
  sideEffects: false,
};
writeFileSync(join(pkg, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
writeFileSync(join(pkg, "README.md"), readFileSync(join(here, "README.md"), "utf8"));
writeFileSync(join(pkg, "size.json"), JSON.stringify(sizes, null, 2) + "\n");
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(
  `wasm size: ${sizes.web_bindgen} bytes (${kib(sizes.web_bindgen)}) before wasm-opt, ` +
    `${sizes.web_opt} bytes (${kib(sizes.web_opt)}) after wasm-opt -O3 [raw cargo output ${kib(sizes.raw)}]`,
);
