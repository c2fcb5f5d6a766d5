// Builds pkg/: the wasm (cargo, release, wasm32-unknown-unknown), the JS glue for browsers
// (pkg/web, ES module) and for Node (pkg/node), shrunk by binaryen's wasm-opt, plus
// pkg/package.json (name xnonce-wasm) and pkg/size.json.
//
// The wasm-bindgen CLI must be exactly the wasm-bindgen version in Cargo.lock; it is
// installed once into <target>/tools/wasm-bindgen-<version> when missing (only that with
// `--tools-only`).
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
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
// wasm-bindgen's output is named GLUE; `xnonce_wasm.js` is the package's wrapper around it.
const GLUE = "xnonce_wasm_bindgen";
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
// `--tools-only`: stop once the CLI is there (scripts/test.sh builds it early, in the background).
if (process.argv.includes("--tools-only")) {
  console.log(`${got} ready at ${bindgen}`);
  process.exit(0);
}

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
  run(bindgen, [wasm, "--out-dir", join(pkg, dir), "--target", target, "--out-name", GLUE]);
  const file = join(pkg, dir, `${GLUE}_bg.wasm`);
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
    "--enable-simd", // core's SHA-256 (see .cargo/config.toml)
    file,
    "-o",
    file,
  ]);
  sizes[`${dir}_opt`] = statSync(file).size;
}
// The package's entry points (`xnonce_wasm.js`): wasm-bindgen's functions, `sign` replaced by
// the one-crossing fast path of js/fast_sign.js, without the fast path's own exports
// (INTERNAL: a raw buffer address, called wrongly, traps). The names are the glue's own
// exports, read from the Node glue here.
const INTERNAL = new Set([
  "packedInput",
  "packedHeader",
  "packedMemory",
  "signPackedInput",
  "setErrorFactory",
]);
// The error classes of bindings-node/errors.js, exported by the entry modules beside the glue's functions.
const ERROR_CLASSES = [
  "XNonceError",
  "InputError",
  "FormatError",
  "AuthError",
  "RouteError",
  "UnavailableError",
];
// wasm-bindgen --target nodejs writes CommonJS (the rest of the package is ESM).
writeFileSync(join(pkg, "node", "package.json"), JSON.stringify({ type: "commonjs" }, null, 2) + "\n");
const glueExports = Object.keys(createRequire(import.meta.url)(join(pkg, "node", `${GLUE}.js`)));
if (!glueExports.includes("sign") || !glueExports.includes("link") || !glueExports.includes("packedInput")) {
  throw new Error(`unexpected exports of the Node glue: ${glueExports.join(", ")}`);
}
const publicNames = glueExports.filter((name) => !INTERNAL.has(name));
const fastSign = readFileSync(join(here, "js", "fast_sign.js"), "utf8");
// The error classes are the Node package's own (bindings-node/errors.js, one definition for
// both JavaScript packages): its CommonJS header and exports are cut off here, and each entry
// module exports them its own way. Its `register(glue)` wires the glue's errorCodes() and
// setErrorFactory, which this module has as the addon does.
const nodeErrors = readFileSync(join(here, "..", "bindings-node", "errors.js"), "utf8");
const errorsBody = nodeErrors
  .replace(/^'use strict'\n/, "")
  .replace(/\nmodule\.exports = \{[^}]*\}\n$/, "\n");
if (
  errorsBody.includes("module.exports") ||
  errorsBody.includes("use strict") ||
  !errorsBody.includes("function register(")
) {
  throw new Error(
    "bindings-node/errors.js no longer has the shape build.mjs cuts (header, register, exports)",
  );
}
const errorsJs =
  "// Generated by bindings-wasm/scripts/build.mjs from bindings-node/errors.js.\n" + errorsBody;
const errorExports = [...ERROR_CLASSES, "register"].join(", ");
const banner =
  "// Generated by bindings-wasm/scripts/build.mjs: wasm-bindgen's module, `sign` on the fast path.\n";
const SIGN_ARGS = "scheme, method, path, params, client, secret, options";

// web/: every function checks that init() (or initSync) has run, so that a call made too early
// (a click before `await init()`) says so instead of failing inside wasm-bindgen's glue.
writeFileSync(join(pkg, "web", "fast_sign.js"), fastSign + "\nexport { fastSign };\n");
writeFileSync(join(pkg, "web", "errors.js"), errorsJs + `\nexport { ${errorExports} };\n`);
writeFileSync(
  join(pkg, "web", "xnonce_wasm.js"),
  banner +
    `import * as glue from "./${GLUE}.js";\nimport { fastSign } from "./fast_sign.js";\n` +
    `import { ${errorExports} } from "./errors.js";\n\n` +
    `export { ${ERROR_CLASSES.join(", ")} };\n` +
    `let ready = false;\n` +
    `function ensureReady() {\n` +
    `  if (!ready) throw new Error("xnonce-wasm is not initialised: await init() (the default export) first");\n` +
    `}\n` +
    `export default async function init(module_or_path) {\n` +
    `  const output = await glue.default(module_or_path);\n  register(glue);\n  ready = true;\n  return output;\n}\n` +
    `export function initSync(module) {\n` +
    `  const output = glue.initSync(module);\n  register(glue);\n  ready = true;\n  return output;\n}\n` +
    `const fast = fastSign(glue.sign, glue);\n` +
    publicNames
      .map((name) =>
        name === "sign"
          ? `export function sign(${SIGN_ARGS}) {\n  ensureReady();\n  return fast(${SIGN_ARGS});\n}\n`
          : `export function ${name}(...args) {\n  ensureReady();\n  return glue.${name}(...args);\n}\n`,
      )
      .join(""),
);
writeFileSync(
  join(pkg, "web", "xnonce_wasm.d.ts"),
  `export * from "./${GLUE}.js";\nexport { default } from "./${GLUE}.js";\n`,
);

// node/: CommonJS, ready on require. One `exports.name = ...` line per export: Node's ESM loader finds a
// CommonJS module's named exports by reading its source (cjs-module-lexer), which sees such
// assignments but not the keys of `module.exports = { ...glue }`.
writeFileSync(join(pkg, "node", "fast_sign.js"), fastSign + "\nmodule.exports = { fastSign };\n");
writeFileSync(join(pkg, "node", "errors.js"), errorsJs + `\nmodule.exports = { ${errorExports} };\n`);
writeFileSync(
  join(pkg, "node", "xnonce_wasm.js"),
  banner +
    `"use strict";\nconst glue = require("./${GLUE}.js");\nconst { fastSign } = require("./fast_sign.js");\n` +
    `const errors = require("./errors.js");\n` +
    `errors.register(glue);\n` +
    publicNames
      .map((name) =>
        name === "sign" ? `exports.sign = fastSign(glue.sign, glue);\n` : `exports.${name} = glue.${name};\n`,
      )
      .join("") +
    ERROR_CLASSES.map((name) => `exports.${name} = errors.${name};\n`).join(""),
);
writeFileSync(join(pkg, "node", "xnonce_wasm.d.ts"), `export * from "./${GLUE}.js";\n`);
// node/ for `import`: the same functions, and the web entry's init() and initSync(), which have
// nothing to do in Node: code shared with browsers (SSR, vitest) runs unchanged.
writeFileSync(
  join(pkg, "node", "xnonce_wasm.mjs"),
  banner +
    `import cjs from "./xnonce_wasm.js";\n\n` +
    `export const { ${[...publicNames, ...ERROR_CLASSES].join(", ")} } = cjs;\n` +
    `/** Nothing to do in Node (the module is ready on import): for code shared with browsers. */\n` +
    `export default async function init() {}\n` +
    `/** Nothing to do in Node, as init(). */\n` +
    `export function initSync() {}\n`,
);
writeFileSync(
  join(pkg, "node", "xnonce_wasm.d.mts"),
  `export * from "./${GLUE}.js";\n` +
    `/** Nothing to do in Node (the module is ready on import): for code shared with browsers. */\n` +
    `export default function init(module_or_path?: unknown): Promise<void>;\n` +
    `/** Nothing to do in Node, as init(). */\n` +
    `export function initSync(module?: unknown): void;\n`,
);

const version = JSON.parse(run("cargo", ["metadata", "--format-version", "1", "--no-deps"])).packages.find(
  (p) => p.name === "xnonce-wasm",
).version;
const webEntry = { types: "./web/xnonce_wasm.d.ts", default: "./web/xnonce_wasm.js" };
const nodeEntry = {
  import: { types: "./node/xnonce_wasm.d.mts", default: "./node/xnonce_wasm.mjs" },
  require: { types: "./node/xnonce_wasm.d.ts", default: "./node/xnonce_wasm.js" },
};
const manifest = {
  name: "xnonce-wasm",
  version,
  description:
    "xnonce request signing (em-secure-api v1 and the v2 HMAC scheme) for browsers and Node, in WebAssembly",
  license: "MIT OR Apache-2.0",
  type: "module",
  main: "./node/xnonce_wasm.js",
  module: "./web/xnonce_wasm.js",
  // For resolvers without `exports` (TypeScript's node10): the types of `main`.
  types: "./node/xnonce_wasm.d.ts",
  exports: {
    ".": { node: nodeEntry, default: webEntry },
    "./web": webEntry,
    "./node": nodeEntry,
    [`./web/${GLUE}_bg.wasm`]: `./web/${GLUE}_bg.wasm`,
    "./package.json": "./package.json",
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
