// Checks in Node: every vector (plus XNONCE_EXTRA_VECTORS) and the JS surface.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { inspect } from "node:util";
import vm from "node:vm";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { vectorFiles, here, serve } from "../scripts/serve.mjs";
import { checkAll } from "./check.mjs";
import { assert, check, equal, throwsCode, throwsType, useModule } from "./harness.mjs";

const require = createRequire(import.meta.url);
const SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

/**
 * Runs `code` in a fresh Node process (a module instance no other check has touched) after
 * `x` (the package), `glue` (wasm-bindgen's module, whose memory the checks search) and `S`
 * (SECRET) are defined; returns what it printed, read as JSON.
 */
function inFreshProcess(code) {
  const prelude =
    `const x = require("./pkg/node/xnonce_wasm.js");\n` +
    `const glue = require("./pkg/node/xnonce_wasm_bindgen.js");\n` +
    `const S = "${SECRET}";\n`;
  return JSON.parse(execFileSync(process.execPath, ["-e", prelude + code], { cwd: here, encoding: "utf8" }));
}

/** The Node checks; with `vectorsOnly`, only the vector check. */
export async function nodeTests({ vectorsOnly = false } = {}) {
  const x = require("../pkg/node/xnonce_wasm.js");
  useModule(x);

  await check("vectors in Node (pkg/node)", () => {
    const files = vectorFiles().map((f) => ({ name: f, cases: JSON.parse(readFileSync(f, "utf8")) }));
    const r = checkAll(x, files);
    for (const f of r.failures) console.log(`  vector failure: ${f}`);
    if (r.failures.length) throw new Error(`${r.failures.length} vector cases failed`);
    console.log(`wasm-node: ${r.passed} vectors passed`);
  });
  if (vectorsOnly) return;

  await check("XNONCE_EXTRA_VECTORS: extra files are loaded, and a wrong case fails", () => {
    const dir = mkdtempSync(join(tmpdir(), "xnonce-wasm-extra-"));
    try {
      const base = vectorFiles({})[0];
      const good = JSON.parse(readFileSync(base, "utf8"))[0];
      const bad = {
        ...good,
        id: "tampered",
        x_nonce: good.x_nonce.replace(/^./, (c) => (c === "0" ? "1" : "0")),
      };
      writeFileSync(join(dir, "a.json"), JSON.stringify([good]));
      writeFileSync(join(dir, "b.json"), JSON.stringify([bad]));
      const files = vectorFiles({ XNONCE_EXTRA_VECTORS: `${join(dir, "a.json")}:${join(dir, "b.json")}` });
      equal(files.length, vectorFiles({}).length + 2, "extra files listed");
      const r = checkAll(
        x,
        files.slice(-2).map((f) => ({ name: f, cases: JSON.parse(readFileSync(f, "utf8")) })),
      );
      equal(r.passed, 1, "the copied case passes");
      equal(r.failures.length, 1, "the tampered case fails");
      assert(r.failures[0].includes("tampered") && r.failures[0].includes("x_nonce"), r.failures[0]);
      equal(checkAll(x, []).failures.length, 1, "zero cases is a failure");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  await check("the web build gives the same bytes in Node (initSync)", async () => {
    const web = await import("../pkg/web/xnonce_wasm.js");
    web.initSync({ module: readFileSync(join(here, "pkg/web/xnonce_wasm_bindgen_bg.wasm")) });
    const args = [
      "v2",
      "GET",
      "/a/b",
      [["k", "v"]],
      "c",
      SECRET,
      { host: "h", timestamp: 1, nonce: "0".repeat(32) },
    ];
    equal(web.sign(...args), x.sign(...args), "web vs node");
    // initSync registered the web build's own error classes.
    const e = throwsCode(
      () => web.sign("v2", "GET", "/a", [], "c", "not hex", { host: "h" }),
      "invalid_secret",
      web,
    );
    assert(!(e instanceof x.XNonceError), "the web build's classes are its own");
  });

  await check("SHA-256 and HMAC-SHA256 in WebAssembly agree with node:crypto on every length", () => {
    // core's own SHA-256 runs in wasm (WebAssembly has no SHA instructions): the v2 body
    // digest is SHA-256 of the body, the v2 signature HMAC-SHA256 of the canonical string
    // and the v1 token SHA-256 of its canonical string, so each is checked against Node's
    // OpenSSL over every padding boundary (lengths 0..=300) and random inputs.
    const key = Buffer.from(SECRET, "hex");
    const opts = (body) => ({ host: "h", timestamp: 1, nonce: "0".repeat(32), body });
    const bodies = [];
    for (let len = 0; len <= 300; len++)
      bodies.push(Uint8Array.from({ length: len }, (_, i) => (i * 167 + len) & 255));
    for (let i = 0; i < 50; i++) bodies.push(new Uint8Array(randomBytes(1 + ((i * 997) % 5000))));
    for (const body of bodies) {
      const s = x.signDetailed("v2", "POST", "/a", [], "c", SECRET, opts(body));
      const lines = s.canonical.split("\n");
      const digest = body.length
        ? createHash("sha256").update(body).digest("hex")
        : createHash("sha256").digest("hex");
      equal(lines[5], digest, `body digest, ${body.length} bytes`);
      equal(
        s.xNonce.split(" ")[4],
        createHmac("sha256", key).update(s.canonical).digest("hex"),
        `HMAC, ${body.length}-byte body`,
      );
    }
    for (let len = 0; len <= 300; len++) {
      const value = "v".repeat(len);
      const v2 = x.signDetailed("v2", "GET", "/a", [["k", value]], "c", SECRET, opts());
      equal(
        v2.xNonce.split(" ")[4],
        createHmac("sha256", key).update(v2.canonical).digest("hex"),
        `HMAC, value of ${len}`,
      );
      const v1 = x.signDetailed("v1", "GET", "/a", [["k", value]], "c", SECRET, { timestamp: 1 });
      equal(
        v1.xNonce.split(" ")[0],
        createHash("sha256").update(v1.canonical).digest("hex"),
        `v1 token, value of ${len}`,
      );
      equal(
        x.sign("v1", "GET", "/a", [["k", value]], "c", SECRET, { timestamp: 1 }),
        v1.xNonce,
        `v1 sign, value of ${len}`,
      );
      equal(
        x.sign("v2", "GET", "/a", [["k", value]], "c", SECRET, opts()),
        v2.xNonce,
        `v2 sign, value of ${len}`,
      );
    }
  });

  await check("params: pairs, object, Map and URLSearchParams sign alike", () => {
    const opts = { timestamp: 1700000000000 };
    const pairs = [
      ["a", "1"],
      ["b", "x y"],
    ];
    const want = x.sign("v1", "GET", "/c/a", pairs, "cl", SECRET, opts);
    equal(x.sign("v1", "GET", "/c/a", { a: "1", b: "x y" }, "cl", SECRET, opts), want, "object");
    equal(x.sign("v1", "GET", "/c/a", new Map(pairs), "cl", SECRET, opts), want, "Map");
    equal(
      x.sign("v1", "GET", "/c/a", new URLSearchParams(pairs), "cl", SECRET, opts),
      want,
      "URLSearchParams",
    );
    // v1 signs the order: another order gives another token.
    assert(x.sign("v1", "GET", "/c/a", [...pairs].reverse(), "cl", SECRET, opts) !== want, "order is signed");
    equal(
      x.sign("v1", "GET", "/c/a", undefined, "cl", SECRET, opts),
      x.sign("v1", "GET", "/c/a", [], "cl", SECRET, opts),
      "no params",
    );
  });

  await check(
    "params: an object with Symbol.iterator is iterated (as Node does), not read as a record",
    () => {
      const V2 = { timestamp: 1, nonce: "0".repeat(32), host: "h" };
      const v2 = (params) => x.sign("v2", "GET", "/a", params, "svc", SECRET, V2);
      const v1 = (params) => x.sign("v1", "GET", "/a", params, "svc", SECRET, { timestamp: 1 });
      const pairs = [
        ["b", "2"],
        ["a", "1"],
      ];
      // A plain object whose only key is the symbol: its pairs were silently dropped.
      const it = {
        *[Symbol.iterator]() {
          yield* pairs;
        },
      };
      equal(v2(it), v2(pairs), "v2: the iterated pairs are signed");
      assert(v2(it) !== v2([]), "v2: not the header of no params");
      equal(v1(it), v1(pairs), "v1: in iteration order");
      // Own enumerable keys too: the iterator wins, as in the Node package.
      equal(v1({ z: "9", [Symbol.iterator]: it[Symbol.iterator] }), v1(pairs), "iterator over own keys");
      // Generators, and class instances that are iterable.
      equal(
        v1(
          (function* () {
            yield* pairs;
          })(),
        ),
        v1(pairs),
        "generator object",
      );
      class Iterable {
        *[Symbol.iterator]() {
          yield* pairs;
        }
      }
      equal(v1(new Iterable()), v1(pairs), "iterable class instance");
      // The other calls read params the same way.
      const d = x.signDetailed("v1", "GET", "/a", it, "svc", SECRET, { timestamp: 1 });
      equal(d.xNonce, v1(pairs), "signDetailed");
      equal(
        x.link("v2", "GET", "/a", it, "svc", SECRET, "https://h", V2),
        x.link("v2", "GET", "/a", pairs, "svc", SECRET, "https://h", V2),
        "link",
      );
      // What the iterator yields is checked like pairs.
      const yields = (...items) => ({
        *[Symbol.iterator]() {
          yield* items;
        },
      });
      throwsCode(() => v1(yields(["k"])), "invalid_param_value");
      throwsCode(() => v1(yields([1, "v"])), "invalid_param_key");
      throwsCode(() => v1(yields(["k", null])), "invalid_param_value");
      // A throw of the caller's iterator (or getter) reaches the caller as it is.
      const boom = new RangeError("iterator failed");
      const throwing = {
        *[Symbol.iterator]() {
          yield ["a", "1"];
          throw boom;
        },
      };
      for (const bad of [
        throwing,
        {
          get a() {
            throw boom;
          },
        },
      ]) {
        let thrown;
        try {
          v1(bad);
        } catch (e) {
          thrown = e;
        }
        equal(thrown, boom, "the caller's own exception");
      }
      // Symbol.iterator returning a non-object is not iterable: Array.from's TypeError.
      let thrown;
      try {
        v1({ [Symbol.iterator]: () => 5, a: "1" });
      } catch (e) {
        thrown = e;
      }
      assert(thrown instanceof TypeError, `a broken iterator: TypeError, got ${thrown}`);
      // A Symbol.iterator that is not a function does not make an object iterable (as in Node).
      equal(v1({ [Symbol.iterator]: 5, b: "2", a: "1" }), v1(pairs), "non-function Symbol.iterator");
      equal(v1(pairs), v1([...pairs]), "the module works afterwards");
    },
  );

  await check("params: other objects (class instances, Date, ...) are refused, not read as records", () => {
    // Documented (README): the Node package reads their enumerable properties; WASM refuses.
    class Form {
      constructor() {
        this.a = "1";
      }
    }
    for (const bad of [new Form(), new Date(0), /a/, new Uint8Array(2), Promise.resolve()]) {
      throwsCode(() => x.sign("v1", "GET", "/a", bad, "c", SECRET, { timestamp: 1 }), "invalid_param_value");
    }
    const bare = Object.create(null);
    bare.a = "1";
    equal(
      x.sign("v1", "GET", "/a", bare, "c", SECRET, { timestamp: 1 }),
      x.sign("v1", "GET", "/a", [["a", "1"]], "c", SECRET, { timestamp: 1 }),
      "a null-prototype object is a plain object",
    );
  });

  await check("params: numbers, bigints and booleans become core's text", () => {
    const opts = { timestamp: 1700000000000 };
    const text = (v) => x.signDetailed("v1", "GET", "/c/a", [["k", v]], "cl", SECRET, opts).canonical;
    equal(text(1.5), text("1.5"), "1.5");
    equal(text(3), text("3"), "3");
    equal(text(-0), text("0"), "-0");
    equal(text(1e21), text("1000000000000000000000"), "1e21");
    equal(text(10n ** 20n), text("100000000000000000000"), "bigint");
    equal(text(-(2n ** 127n)), text("-170141183460469231731687303715884105728"), "-2^127");
    equal(text(2n ** 127n - 1n), text("170141183460469231731687303715884105727"), "2^127-1");
    equal(text(true), text("true"), "true");
    for (const bad of [
      NaN,
      Infinity,
      null,
      undefined,
      {},
      [1],
      new Uint8Array(1),
      Symbol("s"),
      2n ** 200n,
      2n ** 127n,
      -(2n ** 127n) - 1n,
    ]) {
      throwsCode(() => text(bad), "invalid_param_value");
    }
    throwsCode(
      () => x.sign("v1", "GET", "/c/a", new Map([[1, "a"]]), "cl", SECRET, opts),
      "invalid_param_key",
    );
    throwsCode(() => x.sign("v1", "GET", "/c/a", [["k"]], "cl", SECRET, opts), "invalid_param_value");
    throwsCode(() => x.sign("v1", "GET", "/c/a", "k=v", "cl", SECRET, opts), "invalid_param_value");
  });

  await check("errors: XNonceError with code and family, no secret in the message", () => {
    const secret = "not-a-hex-secret-value";
    const e = throwsCode(() => x.sign("v2", "GET", "/a", [], "c", secret, { host: "h" }), "invalid_secret");
    equal(e.family, "input", "family");
    assert(!e.message.includes(secret), "message does not show the secret");
    throwsCode(() => x.sign("v3", "GET", "/a", [], "c", SECRET), "unsupported_scheme");
    throwsCode(() => x.sign("v2", "GET", "/a", [], "c", SECRET), "invalid_host");
    throwsCode(() => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: -1 }), "invalid_timestamp");
    throwsCode(() => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: 1.5 }), "invalid_timestamp");
    throwsCode(() => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: 2 ** 53 }), "invalid_timestamp");
    for (const bad of [-1n, 2n ** 53n, 2n ** 64n, -(2n ** 64n), 2n ** 200n, NaN, Infinity]) {
      throwsCode(() => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: bad }), "invalid_timestamp");
    }
    throwsCode(() => x.link("v2", "GET", "/a", [], "c", SECRET, "ftp://h"), "invalid_url");
    throwsCode(() => x.parseHeader("nonsense"), "malformed_header");
    throwsCode(() => x.ottokenDecode("!!"), "malformed_ottoken");
    throwsCode(() => x.ottokenEncode("v2 broken"), "malformed_header");
    equal(x.errorCodes().length, 26, "error code count");
  });

  await check("errors as in the Node package: classes by family, message without the code", () => {
    const e = throwsCode(() => x.sign("v2", "GET", "/a", [], "c", SECRET), "invalid_host");
    assert(e instanceof x.InputError && e instanceof x.XNonceError && e instanceof Error, "InputError");
    equal(e.name, "InputError", "name");
    equal(e.message, "v2 signs the host: give the authority the request goes to", "message without the code");
    const f = throwsCode(() => x.parseHeader("nonsense"), "malformed_header");
    assert(f instanceof x.FormatError && !(f instanceof x.InputError), "FormatError");
    assert(f.message.startsWith("X-Nonce: expected"), f.message);
    assert(String(f).startsWith("FormatError: X-Nonce: expected"), String(f));
    // The classes are the package's to construct and test against, as in the Node package.
    const made = new x.AuthError("replayed", "seen");
    equal(made.family, "auth", "family from the code");
    equal(made.name, "AuthError", "name of a constructed error");
    for (const name of [
      "XNonceError",
      "InputError",
      "FormatError",
      "AuthError",
      "RouteError",
      "UnavailableError",
    ]) {
      equal(typeof x[name], "function", `${name} is exported`);
    }
  });

  await check("error names survive a minifier renaming the classes (a bundled web app)", async () => {
    // esbuild --minify, terser and webpack rename the classes of errors.js as they rename any
    // binding: with `this.name = new.target.name`, a bundled page's InputError was named "a".
    // The same renaming here, binding by binding (string literals left alone, as a minifier
    // leaves them), then the errors the module makes.
    const names = ["XNonceError", "InputError", "FormatError", "AuthError", "RouteError", "UnavailableError"];
    let source = readFileSync(join(here, "pkg/web/errors.js"), "utf8");
    names.forEach((name, i) => {
      source = source.replace(new RegExp(`(?<!['"])\\b${name}\\b(?!['"])`, "g"), `e${i}`);
    });
    const dir = mkdtempSync(join(tmpdir(), "xnonce-wasm-minified-"));
    try {
      writeFileSync(join(dir, "errors.mjs"), source);
      const m = await import(join(dir, "errors.mjs"));
      let factory;
      m.register({ errorCodes: () => x.errorCodes(), setErrorFactory: (f) => (factory = f) });
      for (const { code, family } of x.errorCodes()) {
        const e = factory(code, family, "m");
        equal(e.name, throwsName(code), `${code}: name`);
        assert(e instanceof m.e0, `${code}: an XNonceError`);
      }
      equal(new m.e0("c", "m").name, "XNonceError", "new XNonceError");
      equal(new m.e1("c", "m").name, "InputError", "new InputError");
      class Mine extends m.e1 {}
      equal(new Mine("c", "m").name, "Mine", "a subclass of the caller's keeps its name");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    function throwsName(code) {
      const family = x.errorCodes().find((c) => c.code === code).family;
      return {
        input: "InputError",
        format: "FormatError",
        auth: "AuthError",
        route: "RouteError",
        unavailable: "UnavailableError",
      }[family];
    }
  });

  await check("errorCodes(): { code, family, httpStatus } in core's order, as in the Node package", () => {
    const codes = x.errorCodes();
    equal(codes.length, 26, "count");
    equal(
      JSON.stringify(codes[0]),
      '{"code":"invalid_client_id","family":"input","httpStatus":400}',
      "first",
    );
    const replayed = codes.find((c) => c.code === "replayed");
    equal(JSON.stringify(replayed), '{"code":"replayed","family":"auth","httpStatus":409}', "replayed");
  });

  await check("parseHeader and the detailed results have the Node package's fields", () => {
    const V2 = { host: "h", timestamp: 5, nonce: "0".repeat(32) };
    const v1 = x.parseHeader(x.sign("v1", "GET", "/a", [], "c", "pw", { timestamp: 5 }));
    equal(Object.keys(v1).join(), "scheme,client,timestamp,nonce,mac", "v1 fields");
    equal(v1.nonce, null, "v1 nonce is null, not absent");
    const v2 = x.parseHeader(x.sign("v2", "GET", "/a", [], "c", SECRET, V2));
    equal(Object.keys(v2).join(), "scheme,client,timestamp,nonce,mac", "v2 fields");
    equal(v2.nonce, V2.nonce, "v2 nonce");
    const s = x.signDetailed("v2", "GET", "/a", [], "c", SECRET, V2);
    equal(Object.keys(s).join(), "xNonce,ottoken,timestamp,nonce", "signDetailed fields");
    const l = x.linkDetailed("v1", "GET", "/a", [], "c", "pw", "https://h", { timestamp: 5 });
    equal(Object.keys(l).join(), "url,xNonce,ottoken,timestamp,nonce", "linkDetailed fields");
    equal(l.nonce, null, "v1 link nonce");
  });

  await check(
    "serverTimeFromAnswer: the time of an authentic stale answer for the request sent, else null",
    () => {
      // PROTOCOL §12's hint, made here with node:crypto: HMAC-SHA256 keyed with a 64-hex secret's
      // 32 bytes (else the secret's UTF-8 text) over "XNONCE-TIME\n<client>\n<request id>\n<ms>".
      const hintFor = (secret, client, requestId, ms) => {
        const key = /^[0-9a-fA-F]{64}$/.test(secret)
          ? Buffer.from(secret, "hex")
          : Buffer.from(secret, "utf8");
        return `${ms} ${createHmac("sha256", key).update(`XNONCE-TIME\n${client}\n${requestId}\n${ms}`).digest("hex")}`;
      };
      const nonce = "00112233445566778899aabbccddeeff";
      const v2 = x.sign("v2", "GET", "/a", [], "svc", SECRET, { host: "h", timestamp: 5, nonce });
      const own = hintFor(SECRET, "svc", nonce, 1_700_000_060_000);
      equal(x.serverTimeFromAnswer(401, own, v2, SECRET), 1_700_000_060_000, "v2");
      equal(
        x.serverTimeFromAnswer(401, own, v2, SECRET.toUpperCase()),
        1_700_000_060_000,
        "upper-case secret",
      );
      const legacy = "correct-horse-battery-é";
      const v1 = x.sign("v1", "GET", "/a", [], "svc", legacy, { timestamp: 5 });
      const v1Hint = hintFor(legacy, "svc", v1.split(" ")[0], 1_700_000_060_000);
      equal(
        x.serverTimeFromAnswer(401, v1Hint, v1, legacy),
        1_700_000_060_000,
        "v1: the token is the request id",
      );
      equal(x.serverTimeFromAnswer(401, v1Hint, v1, SECRET), null, "v1 hint checked with another secret");
      for (const status of [200, 400, 409, 401.5, 65_937, -401, NaN, Infinity]) {
        equal(x.serverTimeFromAnswer(status, own, v2, SECRET), null, `status ${status}`);
      }
      const others = [
        [hintFor(SECRET, "svc", "ff".repeat(16), 1_700_000_060_000), v2, "another request's hint"],
        [hintFor(SECRET, "other", nonce, 1_700_000_060_000), v2, "another client's hint"],
        [own.replace(/^\d+/, "1700000060001"), v2, "a moved time"],
        [own.toUpperCase(), v2, "upper-case MAC"],
        [null, v2, "no hint"],
        [undefined, v2, "no hint (undefined)"],
        ["\ud800", v2, "a lone surrogate as the hint"],
        [own, "not a header", "sent is no header"],
        [own, "v2\ud800", "sent holds a lone surrogate"],
      ];
      for (const [hint, sent, why] of others)
        equal(x.serverTimeFromAnswer(401, hint, sent, SECRET), null, why);
      throwsType(
        () => x.serverTimeFromAnswer("401", own, v2, SECRET),
        /^status must be a number, not string/,
      );
      throwsType(() => x.serverTimeFromAnswer(401, 5, v2, SECRET), /^hint must be a string, not number/);
      throwsType(() => x.serverTimeFromAnswer(401, own, null, SECRET), /^sent must be a string, not null/);
      throwsType(() => x.serverTimeFromAnswer(401, own, v2, undefined), /^secret must be a string/);
      const bad = throwsCode(() => x.serverTimeFromAnswer(401, own, v2, ""), "invalid_secret");
      assert(!bad.message.includes(SECRET), "the message names no secret");
    },
  );

  await check("param and option refusals say what the Node package says", () => {
    const V2 = { host: "h", timestamp: 5, nonce: "0".repeat(32) };
    const refused = (params, code) =>
      throwsCode(() => x.signDetailed("v2", "GET", "/a", params, "c", SECRET, V2), code);
    equal(
      refused([["a", null]], "invalid_param_value").message,
      'param "a": a value must be a string, number, bigint or boolean, not null',
      "null",
    );
    equal(
      refused([["a", undefined]], "invalid_param_value").message.endsWith("not undefined"),
      true,
      "undefined",
    );
    equal(refused([["a", {}]], "invalid_param_value").message.endsWith("not an object"), true, "object");
    equal(refused([["a", Symbol()]], "invalid_param_value").message.endsWith("not a symbol"), true, "symbol");
    equal(
      refused([["a", 2n ** 130n]], "invalid_param_value").message,
      'param "a": bigint does not fit in 128 bits',
      "bigint",
    );
    equal(
      refused([["a", "1", "2"]], "invalid_param_value").message,
      "entry 0 is not a [key, value] pair",
      "triple",
    );
    equal(refused([[1, "x"]], "invalid_param_key").message, "a param key must be a string", "key");
    equal(
      refused("a=1", "invalid_param_value").message,
      "expected an array of [key, value] pairs, a plain object, a Map or URLSearchParams",
      "container",
    );
    for (const options of [new Map(), []]) {
      const e = throwsType(
        () => x.sign("v2", "GET", "/a", [], "c", SECRET, options),
        /^The argument "options" is invalid: an object of options, not an iterable/,
        "ERR_INVALID_ARG_VALUE",
      );
      equal(e.code, "ERR_INVALID_ARG_VALUE", "iterable options");
    }
    const e = throwsType(
      () => x.signDetailed("v2", "GET", "/a", [], "c", SECRET, { ...V2, timeStamp: 1 }),
      /^The argument "options" is invalid: unknown option "timeStamp" \(known: timestamp, nonce, host, body\)$/,
      "ERR_INVALID_ARG_VALUE",
    );
    equal(e.code, "ERR_INVALID_ARG_VALUE", "unknown option");
  });

  await check(
    "arguments of the wrong JS type: TypeError (as in Node and Python), never a WebAssembly trap",
    () => {
      const header = x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: 1 });
      const V2 = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
      const args = ["v2", "GET", "/a", [["k", "v"]], "c", SECRET];
      // Each text argument, on every call that takes it; sign both on its fast path's
      // fallback (pairs) and its general path (a Map).
      const calls = (a, options = V2) => [
        () => x.sign(...a, options),
        () => x.sign(...a.slice(0, 3), new Map(a[3]), ...a.slice(4), options),
        () => x.signDetailed(...a, options),
        () => x.link(...a, "https://h", options),
        () => x.linkDetailed(...a, "https://h", options),
      ];
      const wrong = [5, 5n, true, null, undefined, {}, [], Symbol("s"), new Uint8Array(4), () => "v2"];
      for (const bad of wrong) {
        const type = bad === null ? "null" : Array.isArray(bad) ? "object" : typeof bad;
        for (const [i, name] of ["scheme", "method", "path", null, "client", "secret"].entries()) {
          if (name === null) continue;
          const a = [...args];
          a[i] = bad;
          for (const call of calls(a))
            throwsType(call, new RegExp(`^${name} must be a string, not ${type}$`));
        }
        throwsType(() => x.link(...args, bad, V2), /^baseUrl must be a string/);
        throwsType(() => x.linkDetailed(...args, bad, V2), /^baseUrl must be a string/);
        throwsType(() => x.parseHeader(bad), /^header must be a string/);
        throwsType(() => x.ottokenEncode(bad), /^header must be a string/);
        throwsType(() => x.ottokenDecode(bad), /^token must be a string/);
        throwsType(() => x.ottokenQueryValue(bad), /^token must be a string/);
        if (bad === null || bad === undefined) continue; // an option set to null is absent
        for (const [field, pattern] of [
          ["nonce", /^nonce must be a string/],
          ["host", /^host must be a string/],
        ]) {
          for (const call of calls(args, { ...V2, [field]: bad })) throwsType(call, pattern);
        }
        if (typeof bad !== "number" && typeof bad !== "bigint") {
          for (const call of calls(args, { ...V2, timestamp: bad })) {
            throwsType(call, /^timestamp must be a number or a bigint/);
          }
        }
        if (!(bad instanceof Uint8Array)) {
          for (const call of calls(
            args.map((v, i) => (i === 1 ? "POST" : v)),
            { ...V2, body: bad },
          )) {
            throwsType(call, /^body must be a Uint8Array, an ArrayBuffer or a string/);
          }
        }
      }
      // The findings: sign(null, ...) and timestamp: true are TypeErrors, as in Node.
      throwsType(() => x.sign(null, "GET", "/a", [], "c", SECRET, V2), /^scheme must be a string, not null$/);
      throwsType(() => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: true }), /^timestamp must be/);
      throwsType(
        () => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: "1700000000000" }),
        /^timestamp/,
      );
      // The message names the type, never the value (a secret of the wrong type included).
      const e = throwsType(() => x.sign("v2", "GET", "/a", [], "c", new String(SECRET), V2), /^secret/);
      assert(!e.message.includes(SECRET.slice(0, 16)), "no secret in the message");
      // Right type, wrong value: still the XNonceError with the field's code.
      throwsCode(() => x.sign("v3", "GET", "/a", [], "c", SECRET, V2), "unsupported_scheme");
      throwsCode(() => x.sign("v2", "GET", "/a", [], "c", "zz", V2), "invalid_secret");
      throwsCode(() => x.sign("v2", "GET", "/a", [], "c", SECRET, { ...V2, nonce: "x" }), "invalid_nonce");
      throwsCode(() => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: 1.5 }), "invalid_timestamp");
      throwsCode(() => x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: -1n }), "invalid_timestamp");
      throwsCode(
        () => x.sign("v1", "POST", "/a", [], "c", SECRET, { body: new Uint8Array(1) }),
        "invalid_body",
      );
      throwsCode(() => x.link(...args, "ftp://h", V2), "invalid_url");
      throwsCode(() => x.parseHeader("v2 x"), "malformed_header");
      throwsCode(() => x.ottokenDecode("!!"), "malformed_ottoken");
      // Params keep their codes (as in Node and Python): a container, key or value of a wrong type.
      throwsCode(() => x.sign(...args.slice(0, 3), "k=v", ...args.slice(4), V2), "invalid_param_value");
      throwsCode(() => x.sign(...args.slice(0, 3), [[1, "v"]], ...args.slice(4), V2), "invalid_param_key");
      throwsCode(
        () => x.sign(...args.slice(0, 3), [["k", null]], ...args.slice(4), V2),
        "invalid_param_value",
      );
      // An options argument that is not an object, as before.
      for (const options of [5, "host", true, () => ({ host: "h" })]) {
        for (const call of calls(args, options)) throwsType(call, /^options must be an object$/);
      }
      // A misspelt option key is refused, never signed without (the fast path and the general
      // one alike: a plain sign call takes the fast path).
      for (const options of [
        { ...V2, timeStamp: 1 },
        { ...V2, Host: "h" },
      ]) {
        for (const call of calls(args, options)) {
          throwsType(
            call,
            /^The argument "options" is invalid: unknown option "(timeStamp|Host)"/,
            "ERR_INVALID_ARG_VALUE",
          );
        }
      }
      // Options given as a Map, a Set or an array are refused, never read as no options; an
      // inherited unknown key is refused as an own one (the keys for…in sees).
      for (const options of [new Map([["timestamp", 5]]), new Set(), [["host", "h"]]]) {
        for (const call of calls(args, options))
          throwsType(
            call,
            /^The argument "options" is invalid: an object of options, not an iterable/,
            "ERR_INVALID_ARG_VALUE",
          );
      }
      for (const call of calls(args, Object.create({ ...V2, hostz: "h" }))) {
        throwsType(
          call,
          /^The argument "options" is invalid: unknown option "hostz"/,
          "ERR_INVALID_ARG_VALUE",
        );
      }
      equal(x.sign("v1", "GET", "/a", [], "c", SECRET, null).split(" ").length, 3, "null options are none");
      equal(x.parseHeader(header).client, "c", "the module still works afterwards");
      equal(x.ottokenDecode(x.ottokenEncode(header)), header, "ottoken round trip afterwards");
    },
  );

  await check(
    "signDetailed/linkDetailed: canonical (v1: holds the secret) stays out of JSON and inspect",
    () => {
      const pw = "hunter2-the-v1-secret";
      const results = [
        ["signDetailed v1", x.signDetailed("v1", "GET", "/a", [["k", "v"]], "c", pw, { timestamp: 1 })],
        [
          "linkDetailed v1",
          x.linkDetailed("v1", "GET", "/a", [["k", "v"]], "c", pw, "https://h", { timestamp: 1 }),
        ],
        ["signDetailed v2", x.signDetailed("v2", "GET", "/a", [], "c", SECRET, { host: "h", timestamp: 1 })],
      ];
      for (const [name, s] of results) {
        const secret = name.endsWith("v1") ? pw : SECRET;
        // Still there to read, as before.
        assert(
          s.canonical.includes(name.endsWith("v1") ? `c${pw}1` : "\nh\n"),
          `${name}: .canonical readable`,
        );
        assert("canonical" in s, `${name}: "canonical" in result`);
        // Not enumerable: JSON, Object.keys, spread and console.log / util.inspect leave it out.
        const shown = [
          JSON.stringify(s),
          JSON.stringify({ result: s }),
          inspect(s),
          inspect(s, { showHidden: true, depth: Infinity }),
          JSON.stringify({ ...s }),
          JSON.stringify(Object.entries(s)),
        ];
        for (const text of shown) {
          assert(!text.includes(secret), `${name}: the secret is not shown`);
          assert(!text.includes(s.canonical), `${name}: the canonical string is not shown`);
        }
        assert(!Object.keys(s).includes("canonical"), `${name}: not among Object.keys`);
        equal(Object.getOwnPropertyDescriptor(s, "canonical").enumerable, false, `${name}: enumerable`);
        // Every other field is still listed.
        const keys = ["xNonce", "ottoken", "timestamp", "nonce"];
        if (name.startsWith("link")) keys.unshift("url");
        equal(Object.keys(s).join(), keys.join(), `${name}: the other fields`);
        equal(JSON.parse(JSON.stringify(s)).xNonce, s.xNonce, `${name}: JSON keeps xNonce`);
      }
    },
  );

  await check("defaults: Date.now() and crypto.getRandomValues", () => {
    const before = Date.now();
    const a = x.signDetailed("v2", "GET", "/a", [], "c", SECRET, { host: "h" });
    const b = x.signDetailed("v2", "GET", "/a", [], "c", SECRET, { host: "h" });
    assert(a.timestamp >= before && a.timestamp <= Date.now(), "timestamp from Date.now()");
    assert(/^[0-9a-f]{32}$/.test(a.nonce) && a.nonce !== b.nonce, "fresh random nonces");
    equal(x.signDetailed("v1", "GET", "/a", [], "c", SECRET).nonce, null, "v1 has no nonce");
    const t = x.signDetailed("v1", "GET", "/a", [], "c", SECRET, { timestamp: 1700000000000n });
    equal(t.timestamp, 1700000000000, "bigint timestamp");
  });

  await check("a mocked Date.now() that answers no time fails the call, never signs time 0", () => {
    const realNow = Date.now;
    try {
      for (const answer of [NaN, -1, "1700000000000", undefined, Infinity]) {
        Date.now = () => answer;
        for (const f of [
          () => x.sign("v1", "GET", "/a", [], "c", SECRET),
          () => x.signDetailed("v2", "GET", "/a", [], "c", SECRET, { host: "h" }),
          () => x.link("v2", "GET", "/a", [], "c", SECRET, "https://h"),
        ]) {
          throwsType(f, /^Date\.now\(\) did not return/);
        }
        // A given timestamp does not read the clock.
        x.sign("v1", "GET", "/a", [], "c", SECRET, { timestamp: 1 });
      }
      Date.now = () => 1700000000000.75; // a fraction is cut off
      equal(x.signDetailed("v1", "GET", "/a", [], "c", SECRET).timestamp, 1700000000000, "fraction");
    } finally {
      Date.now = realNow;
    }
  });

  await check("bodies: string, Uint8Array and ArrayBuffer sign alike", () => {
    const opts = (body) => ({ host: "h", timestamp: 1, nonce: "0".repeat(32), body });
    const bytes = new TextEncoder().encode('{"a":"é"}');
    const want = x.sign("v2", "POST", "/a", [], "c", SECRET, opts(bytes));
    equal(x.sign("v2", "POST", "/a", [], "c", SECRET, opts('{"a":"é"}')), want, "string");
    equal(x.sign("v2", "POST", "/a", [], "c", SECRET, opts(bytes.buffer)), want, "ArrayBuffer");
    throwsType(() => x.sign("v2", "POST", "/a", [], "c", SECRET, opts(42)), /^body must be/);
    throwsCode(() => x.sign("v1", "POST", "/a", [], "c", SECRET, { body: "x" }), "invalid_body");
  });

  await check("signRequest signs the params the target and a form body carry, as sign does", () => {
    const parts = { host: "api.test", timestamp: 1, nonce: "0".repeat(32) };
    const bySign = (scheme, method, params) => x.sign(scheme, method, "/a/b", params, "c", SECRET, parts);
    for (const scheme of ["v1", "v2"]) {
      equal(
        x.signRequest(scheme, "POST", "/a/b?x=1", "c", SECRET, {
          ...parts,
          contentType: "Application/X-WWW-Form-Urlencoded; charset=utf-8",
          body: new TextEncoder().encode("y=a+b%21"),
        }),
        bySign(scheme, "POST", [
          ["x", "1"],
          ["y", "a b!"],
        ]),
        `${scheme} query and form`,
      );
      equal(
        x.signRequest(scheme, "GET", "/a/b?q=hello%20phil&e=", "c", SECRET, parts),
        bySign(scheme, "GET", [
          ["q", "hello phil"],
          ["e", ""],
        ]),
        `${scheme} query`,
      );
      throwsCode(() => x.signRequest(scheme, "GET", "/a/b#top", "c", SECRET, parts), "invalid_path");
      throwsCode(() => x.signRequest(scheme, "GET", "/a/b?x=%zz", "c", SECRET, parts), "malformed_params");
    }
    const json = { ...parts, contentType: "application/json", body: "{}" };
    equal(
      x.signRequest("v2", "POST", "http://API.test/a/b", "c", SECRET, { ...json, host: "other" }),
      x.sign("v2", "POST", "/a/b", [], "c", SECRET, { ...parts, body: "{}" }),
      "absolute form: its authority is the host; a JSON body is the body",
    );
    throwsCode(() => x.signRequest("v1", "POST", "/a/b", "c", SECRET, json), "invalid_body");
    throwsType(
      () => x.signRequest("v2", "GET", "/a", "c", SECRET, { ...parts, Host: "h" }),
      /unknown option "Host"/,
      "ERR_INVALID_ARG_VALUE",
    );
    throwsType(
      () => x.signRequest("v2", "GET", "/a", "c", SECRET, new Map()),
      /not an iterable/,
      "ERR_INVALID_ARG_VALUE",
    );
    throwsType(() => x.signRequest("v2", "GET", "/a", "c", SECRET, { ...parts, body: 42 }), /^body must be/);
  });

  await check(
    "a body made in another realm (a vm context, Jest's tests) signs as in the Node package",
    () => {
      // `instanceof Uint8Array` is false for another realm's view: in Jest's test code a
      // Buffer or TextEncoder output is one. The Node package signs it; this one threw
      // "body must be a Uint8Array, an ArrayBuffer or a string".
      const opts = (body) => ({ host: "h", timestamp: 1, nonce: "0".repeat(32), body });
      const want = x.sign("v2", "POST", "/a", [], "c", SECRET, opts(new Uint8Array([1, 2, 3])));
      const other = vm.createContext({});
      for (const [name, source] of [
        ["Uint8Array", "new Uint8Array([1, 2, 3])"],
        ["ArrayBuffer", "new Uint8Array([1, 2, 3]).buffer"],
        ["subarray", "new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 4)"],
      ]) {
        const body = vm.runInContext(source, other);
        equal(x.sign("v2", "POST", "/a", [], "c", SECRET, opts(body)), want, `${name}, sign`);
        equal(
          x.signDetailed("v2", "POST", "/a", [], "c", SECRET, opts(body)).xNonce,
          want,
          `${name}, detailed`,
        );
      }
      // Still refused, on both paths: what is neither, whatever it claims or forwards to.
      // (Before, the Proxy signed on the general path, and threw another TypeError on the fast one.)
      for (const body of [
        vm.runInContext("new Int8Array([1, 2, 3])", other),
        vm.runInContext("new SharedArrayBuffer(3)", other),
        new Proxy(new Uint8Array([1, 2, 3]), {}),
        { [Symbol.toStringTag]: "Uint8Array", length: 3, 0: 1, 1: 2, 2: 3 },
        // `instanceof ArrayBuffer`, yet no ArrayBuffer: the fast path signed its entries.
        Object.assign(Object.create(ArrayBuffer.prototype), { length: 3, 0: 1, 1: 2, 2: 3 }),
      ]) {
        throwsType(() => x.sign("v2", "POST", "/a", [], "c", SECRET, opts(body)), /^body must be/);
        throwsType(() => x.signDetailed("v2", "POST", "/a", [], "c", SECRET, opts(body)), /^body must be/);
      }
    },
  );

  await check("a Uint8Array subclass's own length getters are not believed", () => {
    // Its bytes are what the view holds; getters that say fewer must not size the copy into
    // the module's memory (the copy would run past the room made for it).
    class Lying extends Uint8Array {
      get byteLength() {
        return 1;
      }
      get length() {
        return 1;
      }
    }
    const opts = (body) => ({ host: "h", timestamp: 1, nonce: "0".repeat(32), body });
    for (const size of [10, 100_000, 3_000_000]) {
      const plain = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 255);
      const lying = new Lying(plain);
      const want = x.sign("v2", "POST", "/a", [], "c", SECRET, opts(plain));
      equal(x.sign("v2", "POST", "/a", [], "c", SECRET, opts(lying)), want, `${size} bytes`);
      // And the next call still signs right (nothing past the input buffer was overwritten).
      equal(x.sign("v2", "POST", "/a", [], "c", SECRET, opts(plain)), want, `${size} bytes, after`);
      // The general path (params in a Map) and signDetailed read the same bytes.
      const map = new Map();
      equal(x.sign("v2", "POST", "/a", map, "c", SECRET, opts(lying)), want, `${size} bytes, general`);
      equal(
        x.signDetailed("v2", "POST", "/a", [], "c", SECRET, opts(lying)).xNonce,
        want,
        `${size}, detailed`,
      );
    }
  });

  await check("README's Node import: named ESM import and require() of the installed package", () => {
    // A project with the package in node_modules, as `npm install .../pkg` leaves it.
    const project = mkdtempSync(join(tmpdir(), "xnonce-wasm-import-"));
    try {
      mkdirSync(join(project, "node_modules"));
      symlinkSync(join(here, "pkg"), join(project, "node_modules", "xnonce-wasm"), "dir");
      const readme = readFileSync(join(here, "README.md"), "utf8");
      const node = readme.slice(readme.indexOf("## Use it in Node"));
      const importLine = /^import \{[^}]+\} from "xnonce-wasm";.*$/m.exec(node)?.[0];
      assert(importLine, "README's Node section imports named exports");
      const names = /\{([^}]+)\}/
        .exec(importLine)[1]
        .split(",")
        .map((n) => n.trim());
      const args = `"v2", "GET", "/a", [["k", "v"]], "c", "${SECRET}", { host: "h", timestamp: 1, nonce: "${"0".repeat(32)}" }`;
      const esm =
        `${importLine}\n` +
        `console.log(JSON.stringify({ types: [${names.join(", ")}].map((f) => typeof f), header: sign(${args}) }));\n`;
      const run = (flags, code) =>
        JSON.parse(
          execFileSync(process.execPath, [...flags, "-e", code], { cwd: project, encoding: "utf8" }),
        );
      const fromEsm = run(["--input-type=module"], esm);
      equal(fromEsm.types.join(), names.map(() => "function").join(), `named exports ${names}`);
      const cjs = `const x = require("xnonce-wasm");\nconsole.log(JSON.stringify({ header: x.sign(${args}), names: Object.keys(x) }));\n`;
      const fromCjs = run([], cjs);
      const want = x.sign("v2", "GET", "/a", [["k", "v"]], "c", SECRET, {
        host: "h",
        timestamp: 1,
        nonce: "0".repeat(32),
      });
      equal(fromEsm.header, want, "ESM sign");
      equal(fromCjs.header, want, "CJS sign");
      for (const name of ["sign", "signDetailed", "link", "linkDetailed", "parseHeader", "errorCodes"]) {
        assert(fromCjs.names.includes(name), `require() has ${name}`);
      }
      // Every export of require() is a named export of import (the default export aside).
      const all = run(
        ["--input-type=module"],
        `import * as m from "xnonce-wasm";\nconsole.log(JSON.stringify(Object.keys(m).filter((k) => k !== "default")));\n`,
      );
      // import adds initSync (and a default init), no-ops in Node, for code shared with browsers.
      equal(all.sort().join(), [...fromCjs.names, "initSync"].sort().join(), "ESM named exports");
      for (const name of ["packedInput", "packedHeader", "packedMemory", "signPackedInput"]) {
        assert(!fromCjs.names.includes(name), `the fast path's own ${name} is not exported`);
      }
      // The page's code (README "Use it in a page") runs in Node unchanged: SSR, vitest.
      const shared = run(
        ["--input-type=module"],
        `import init, { sign } from "xnonce-wasm";\nawait init();\n` +
          `console.log(JSON.stringify({ header: sign(${args}) }));\n`,
      );
      equal(shared.header, want, "init() then sign, in Node");
      const manifest = run([], `console.log(JSON.stringify(require("xnonce-wasm/package.json")))`);
      equal(manifest.name, "xnonce-wasm", "package.json is exported");
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  await check("text that is not well-formed (a lone surrogate) is refused with the field's code", () => {
    const V2 = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
    const base = { method: "GET", path: "/a/b", params: [["k", "v"]], client: "c", secret: SECRET };
    const argsOf = (over) => {
      const a = { ...base, ...over };
      return ["v2", a.method, a.path, a.params, a.client, a.secret, { ...V2, ...over.options }];
    };
    for (const lone of ["\ud800", "\udfff", "a\udc00b", "x\ud83d"]) {
      // The third item: how core names the input, in the message of every language.
      const fields = [
        ["method", { method: "GE" + lone }, "invalid_method", "the method"],
        ["path", { path: "/a/" + lone }, "invalid_path", "the path"],
        ["client", { client: "c" + lone }, "invalid_client_id", "the client id"],
        ["secret", { secret: SECRET.slice(0, 63) + lone }, "invalid_secret", "the secret"],
        ["key", { params: [["k" + lone, "v"]] }, "invalid_param_key", "a param key"],
        ["value", { params: [["k", "v" + lone]] }, "invalid_param_value", 'param "k"'],
        ["host", { options: { host: "h" + lone } }, "invalid_host", "the host"],
        ["nonce", { options: { nonce: lone + "0".repeat(31) } }, "invalid_nonce", "the nonce"],
        ["body", { method: "POST", options: { body: '{"a":"' + lone + '"}' } }, "invalid_body", "the body"],
      ];
      const reason = " is not valid Unicode text (it holds a lone surrogate)";
      for (const [name, over, code, what] of fields) {
        const a = argsOf(over);
        // sign's fast path (string pairs), its general path (a Map), and the other calls.
        const e = throwsCode(() => x.sign(...a), code);
        assert(!e.message.includes(SECRET.slice(0, 60)), `${name}: no secret in the message`);
        equal(e.message, `${what}${reason}`, `${name}: named as core names it`);
        const general = throwsCode(() => x.sign(...a.slice(0, 3), new Map(a[3]), ...a.slice(4)), code);
        equal(general.message, e.message, `${name}: the same message on the general path`);
        throwsCode(() => x.signDetailed(...a), code);
        if (name !== "host" && name !== "body") {
          throwsCode(() => x.link(...a.slice(0, 6), "https://h", a[6]), code);
          throwsCode(() => x.linkDetailed(...a.slice(0, 6), "https://h", a[6]), code);
        }
      }
      throwsCode(() => x.sign("v1", "GET", "/a", [], "c", "pass" + lone, { timestamp: 1 }), "invalid_secret");
      throwsCode(() => x.sign("v2", "GET", "/a", { [lone]: "v" }, "c", SECRET, V2), "invalid_param_key");
      const url = throwsCode(
        () => x.link("v2", "GET", "/a", [], "c", SECRET, "https://h/" + lone),
        "invalid_url",
      );
      equal(url.message, `the base URL${reason}`, "baseUrl: named as core names it");
      const scheme = throwsCode(() => x.sign(lone, "GET", "/a", [], "c", SECRET, V2), "unsupported_scheme");
      equal(scheme.message, `the scheme${reason}`, "scheme: named as core names it");
      const header = throwsCode(() => x.parseHeader("v2 " + lone), "malformed_header");
      equal(header.message, `the X-Nonce header${reason}`, "header: named as core names it");
      const token = throwsCode(() => x.ottokenDecode(lone), "malformed_ottoken");
      equal(token.message, `the ottoken${reason}`, "ottoken: named as core names it");
    }
    // Well-formed text is signed as it is: a real U+FFFD and a surrogate pair.
    const canonical = (v) =>
      x.signDetailed("v1", "GET", "/a", [["k", v]], "c", SECRET, { timestamp: 1 }).canonical;
    equal(canonical("\ufffd\ud83d\ude00"), `GET/ak=%EF%BF%BD%F0%9F%98%80c${SECRET}1`, "well-formed text");
    const header = (v) => x.sign("v2", "GET", "/a", [["k", v]], "c", SECRET, V2);
    equal(header("\ufffd"), x.sign("v2", "GET", "/a", new Map([["k", "\ufffd"]]), "c", SECRET, V2), "U+FFFD");
  });

  await check("the fast path refuses lone surrogates without String.prototype.isWellFormed too", () => {
    // Engines before it (Node 19, older browsers) take the regular-expression fallback.
    const code = `
      delete String.prototype.isWellFormed;
      const x = require(${JSON.stringify(join(here, "pkg", "node", "xnonce_wasm.js"))});
      const o = { host: "h", timestamp: 1, nonce: "${"0".repeat(32)}" };
      const out = [];
      for (const v of ["\\ud800", "a\\udc00", "\\ud83d\\ude00x", "\\ud83d\\ude00\\ud83d"]) {
        try { out.push(x.sign("v2", "GET", "/a", [["k", v]], "c", "${SECRET}", o)); }
        catch (e) { out.push(e.code); }
      }
      console.log(JSON.stringify(out));`;
    const out = JSON.parse(execFileSync(process.execPath, ["-e", code], { encoding: "utf8" }));
    const o = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
    equal(out[0], "invalid_param_value", "lone high");
    equal(out[1], "invalid_param_value", "lone low");
    equal(out[2], x.sign("v2", "GET", "/a", [["k", "\ud83d\ude00x"]], "c", SECRET, o), "a pair signs");
    equal(out[3], "invalid_param_value", "pair then lone high");
  });

  await check("an option that is null is absent, on both sign paths (as in the Node package)", () => {
    const V2 = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
    const want = x.sign("v2", "GET", "/a", [["k", "v"]], "c", SECRET, V2);
    for (const params of [[["k", "v"]], new Map([["k", "v"]]), { k: "v" }]) {
      equal(x.sign("v2", "GET", "/a", params, "c", SECRET, { ...V2, body: null }), want, "body: null");
      const h = x.parseHeader(
        x.sign("v2", "GET", "/a", params, "c", SECRET, { host: "h", timestamp: null, nonce: null }),
      );
      assert(Math.abs(h.timestamp - Date.now()) < 60000 && h.nonce !== V2.nonce, "defaults for null");
    }
    throwsCode(() => x.sign("v2", "GET", "/a", [], "c", SECRET, { ...V2, host: null }), "invalid_host");
  });

  await check("sign's fast path signs by itself; the general path gets only what it declines", () => {
    const glue = require("../pkg/node/xnonce_wasm_bindgen.js");
    const { fastSign } = require("../pkg/node/fast_sign.js");
    const asked = [];
    const sign = fastSign((...args) => {
      asked.push(args[2]);
      return glue.sign(...args);
    }, glue);
    const V2 = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
    const pairs = [
      ["k", "v"],
      ["é", "a b"],
    ];
    equal(
      sign("v2", "GET", "/a", pairs, "c", SECRET, V2),
      glue.sign("v2", "GET", "/a", pairs, "c", SECRET, V2),
    );
    const body = { ...V2, body: '{"n":1}' };
    equal(
      sign("v2", "POST", "/b", [], "c", SECRET, body),
      glue.sign("v2", "POST", "/b", [], "c", SECRET, body),
    );
    equal(asked.length, 0, "the fast path signed both");
    // A NUL inside a field, or a timestamp that is not an integer: the general path says why.
    throwsCode(() => sign("v2", "GET", "/a\0b", [], "c", SECRET, V2), "invalid_path");
    throwsCode(
      () => sign("v2", "GET", "/c", [], "c", SECRET, { ...V2, timestamp: 1.5 }),
      "invalid_timestamp",
    );
    equal(asked.join(","), "/a\0b,/c", "declined");
  });

  await check("sign's fast path reads each param once: a getter cannot make it sign a cut value", () => {
    // A pair whose value getter answers "short" at first and a long text after: the text
    // measured must be the text packed (the audit's case signed 'L' x 908).
    const long = "L".repeat(5000);
    const V2 = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
    const changing = () => {
      let reads = 0;
      const pair = ["k", "x"];
      Object.defineProperty(pair, 1, { get: () => (reads++ < 1 ? "short" : long), enumerable: true });
      return pair;
    };
    const got = x.sign("v2", "GET", "/a", [changing()], "c", SECRET, V2);
    const short = x.sign("v2", "GET", "/a", [["k", "short"]], "c", SECRET, V2);
    equal(got, short, "signed the value read once");
    // A getter that signs (and so may grow the module's buffers) while being read.
    let inner;
    const reentrant = ["k", "x"];
    Object.defineProperty(reentrant, 1, {
      get: () => {
        inner ??= x.sign("v2", "GET", "/b", [["z", "y".repeat(100000)]], "c", SECRET, V2);
        return "v";
      },
    });
    equal(
      x.sign("v2", "GET", "/a", [reentrant], "c", SECRET, V2),
      x.sign("v2", "GET", "/a", [["k", "v"]], "c", SECRET, V2),
    );
    equal(inner, x.sign("v2", "GET", "/b", [["z", "y".repeat(100000)]], "c", SECRET, V2));
  });

  await check("the web build says when init() has not run yet, and signs once it has", () => {
    // A fresh process: the web module of this one is initialised already.
    const code =
      `import { readFileSync } from "node:fs";\n` +
      `import { initSync, sign, link } from "./pkg/web/xnonce_wasm.js";\n` +
      `const early = [];\n` +
      `for (const f of [() => sign("v1", "GET", "/a", [], "c", "s"), () => link("v1", "GET", "/a", [], "c", "s", "http://h")]) {\n` +
      `  try { f(); early.push("signed"); } catch (e) { early.push(e.message); }\n` +
      `}\n` +
      `initSync({ module: readFileSync("pkg/web/xnonce_wasm_bindgen_bg.wasm") });\n` +
      `const header = sign("v2", "GET", "/a", [["k", "v"]], "c", "${SECRET}", { host: "h", timestamp: 1, nonce: "${"0".repeat(32)}" });\n` +
      `console.log(JSON.stringify({ early, header }));\n`;
    const out = JSON.parse(
      execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: here, encoding: "utf8" }),
    );
    for (const message of out.early) assert(/not initialised: await init\(\)/.test(message), message);
    equal(
      out.header,
      x.sign("v2", "GET", "/a", [["k", "v"]], "c", SECRET, {
        host: "h",
        timestamp: 1,
        nonce: "0".repeat(32),
      }),
    );
  });

  await check("the fast path survives a buffer it could not get, and one the module had no room for", () => {
    // A fresh process (the fast path owns the module's buffers): a packedInput that throws
    // (as before init) leaves the old buffer in use; one the module cannot allocate (0)
    // sends that call to the general path and the next one gets a new buffer.
    const code =
      `const glue = require("./pkg/node/xnonce_wasm_bindgen.js");\n` +
      `const { fastSign } = require("./pkg/node/fast_sign.js");\n` +
      `const asked = [];\n` +
      `let mode = "throw";\n` +
      `const wasm = { ...glue, packedInput(n) {\n` +
      `  if (mode === "throw") { mode = "ok"; throw new Error("not ready"); }\n` +
      `  if (mode === "full") { mode = "ok"; return glue.packedInput(0xfff00000); }\n` +
      `  return glue.packedInput(n);\n` +
      `} };\n` +
      `const sign = fastSign((...a) => { asked.push(a[2]); return glue.sign(...a); }, wasm);\n` +
      `const V2 = { host: "h", timestamp: 1, nonce: "${"0".repeat(32)}" };\n` +
      `const out = { headers: [], want: [] };\n` +
      `try { sign("v2", "GET", "/early", [], "c", "${SECRET}", V2); } catch (e) { out.early = e.message; }\n` +
      `for (const [path, next] of [["/a", "full"], ["/big", "ok"], ["/after", "ok"]]) {\n` +
      `  const params = path === "/big" ? [["k", "x".repeat(5000)]] : [];\n` +
      `  out.headers.push(sign("v2", "GET", path, params, "c", "${SECRET}", V2));\n` +
      `  out.want.push(glue.sign("v2", "GET", path, params, "c", "${SECRET}", V2));\n` +
      `  mode = next;\n` +
      `}\n` +
      `out.asked = asked;\n` +
      `console.log(JSON.stringify(out));\n`;
    // Not inFreshProcess: the package itself is not loaded here (its own fast path would
    // share the module's buffers).
    const out = JSON.parse(execFileSync(process.execPath, ["-e", code], { cwd: here, encoding: "utf8" }));
    equal(out.early, "not ready");
    equal(out.headers.join(), out.want.join(), "every header is core's");
    // "/a" is signed fast on the first buffer (before the fix its address was lost with the
    // throw); "/big" needs a larger one, which the module has no room for: general path;
    // "/after" gets a new buffer and is signed fast again.
    equal(out.asked.join(), "/big", "only the call without a buffer took the general path");
  });

  await check("a throw while core runs or an argument is read leaves the module whole", () => {
    // A fresh process. A JS exception that unwinds WebAssembly runs no Rust destructor: it
    // leaked about 1 KiB of shadow stack a call (after ~1000, every call trapped), left the
    // call's heap (the secret's copy) unfreed and unzeroized and, thrown by
    // crypto.getRandomValues or Date.now on sign's fast path, the buffers borrowed: every
    // later sign was a "RuntimeError: unreachable". Each is now reported, as it is, by a
    // return, and every path keeps signing core's bytes.
    const code =
      `const V2 = { host: "h", timestamp: 1, nonce: "${"0".repeat(32)}" };\n` +
      `const want = () => [x.sign("v2", "GET", "/a", [["k", "v"]], "c", S, V2), x.sign("v1", "GET", "/a", [], "c", S, { timestamp: 1 }),\n` +
      `  x.signDetailed("v2", "GET", "/a", new Map([["k", "v"]]), "c", S, V2).xNonce, x.link("v2", "GET", "/a", [], "c", S, "http://h", { timestamp: 1, nonce: V2.nonce })];\n` +
      `const before = want();\n` +
      `const boom = () => { throw new Error("boom"); };\n` +
      `const detached = () => { const b = new ArrayBuffer(4); structuredClone(b, { transfer: [b] }); return b; };\n` +
      `const detachedView = () => { const v = new Uint8Array(4); structuredClone(v.buffer, { transfer: [v.buffer] }); return v; };\n` +
      `const { proxy: revoked, revoke } = Proxy.revocable([], {}); revoke();\n` +
      `const withGlobal = (obj, key, value, f) => () => { const old = obj[key]; obj[key] = value; try { return f(); } finally { obj[key] = old; } };\n` +
      `const cases = {\n` +
      `  rngFast: withGlobal(globalThis.crypto, "getRandomValues", boom, () => x.sign("v2", "GET", "/a", [], "c", S, { host: "h" })),\n` +
      `  rngGeneral: withGlobal(globalThis.crypto, "getRandomValues", boom, () => x.signDetailed("v2", "GET", "/a", [], "c", S, { host: "h" })),\n` +
      `  clockFast: withGlobal(Date, "now", boom, () => x.sign("v1", "GET", "/a", [], "c", S)),\n` +
      `  clockLink: withGlobal(Date, "now", boom, () => x.link("v2", "GET", "/a", [], "c", S, "https://h")),\n` +
      `  optionGetter: () => x.signDetailed("v2", "GET", "/a", [], "c", S, { get host() { return boom(); } }),\n` +
      `  pairGetter: () => x.link("v2", "GET", "/a", [Object.defineProperty(["k", "v"], 1, { get: boom })], "c", S, "https://h"),\n` +
      `  paramsGetter: () => x.signDetailed("v2", "GET", "/a", Object.defineProperty([], 0, { get: boom }), "c", S, V2),\n` +
      `  detachedFast: () => x.sign("v2", "POST", "/a", [], "c", S, { ...V2, body: detached() }),\n` +
      `  detachedGeneral: () => x.signDetailed("v2", "POST", "/a", [], "c", S, { ...V2, body: detached() }),\n` +
      `  detachedViewFast: () => x.sign("v2", "POST", "/a", [], "c", S, { ...V2, body: detachedView() }),\n` +
      `  detachedViewGeneral: () => x.signDetailed("v2", "POST", "/a", [], "c", S, { ...V2, body: detachedView() }),\n` +
      `  detachedViewLink: () => x.link("v2", "POST", "/a", [], "c", S, "https://h", { body: detachedView() }),\n` +
      `  revokedParams: () => x.signDetailed("v2", "GET", "/a", revoked, "c", S, V2),\n` +
      `  ownKeysTrap: () => x.signDetailed("v2", "GET", "/a", [], "c", S, new Proxy({}, { ownKeys: boom })),\n` +
      `};\n` +
      `const thrown = {};\n` +
      `for (const [name, f] of Object.entries(cases)) {\n` +
      `  const seen = new Set();\n` +
      `  for (let i = 0; i < 1500; i++) try { f(); seen.add("signed"); } catch (e) { seen.add(e.constructor.name + ": " + e.message.slice(0, 30)); }\n` +
      `  thrown[name] = [...seen];\n` +
      `}\n` +
      `const mem = glue.packedMemory().buffer;\n` +
      `console.log(JSON.stringify({ thrown, same: want().join() === before.join(), secretInMemory: Buffer.from(mem).indexOf(S) >= 0 }));\n`;
    const out = inFreshProcess(code);
    // Every one of a case's 1500 calls threw the same (error, start of message).
    const only = (name, start) =>
      assert(
        out.thrown[name].length === 1 && out.thrown[name][0].startsWith(start),
        `${name}: ${out.thrown[name]}`,
      );
    const rng = "Error: crypto.getRandomValues is";
    only("rngFast", rng);
    only("rngGeneral", rng);
    for (const name of [
      "clockFast",
      "clockLink",
      "optionGetter",
      "pairGetter",
      "paramsGetter",
      "ownKeysTrap",
    ]) {
      only(name, "Error: boom");
    }
    only("detachedFast", "TypeError: Cannot perform Construct");
    only("detachedGeneral", "TypeError: Cannot perform Construct");
    // A Uint8Array whose buffer is detached: before the fix, the general path's
    // `new Uint8Array(view)` threw through the module (after ~1400 calls, every call was a
    // "RuntimeError: memory access out of bounds"), and the fast path threw while copying it,
    // after the packed text, the secret in it, was written into the module's memory.
    for (const name of ["detachedViewFast", "detachedViewGeneral", "detachedViewLink"]) {
      only(name, "TypeError: Cannot perform Construct");
    }
    only("revokedParams", "TypeError: Cannot perform 'IsArray'");
    assert(out.same, "every path signs as before the throws");
    // (v2 only: core keeps a v1 result's canonical text, the secret in it, unzeroized.)
    assert(!out.secretInMemory, "no copy of the secret is left in the module's memory");
  });

  await check("sign's host binds what link's base URL binds (case, default port)", () => {
    // Core's canonical host (§6.2) reads both: the same request signed with `sign` and with
    // `link` carries the same header, whichever spelling of the authority either is given.
    const o = { timestamp: 1700000000000, nonce: "0".repeat(32) };
    for (const [base, hosts] of [
      ["https://API.Example.com", ["api.example.com", "API.EXAMPLE.COM:443", "api.example.com:80"]],
      ["https://api.example.com:443", ["Api.Example.Com", "api.example.com"]],
      ["http://api.example.com:8080/prefix", ["API.example.com:8080"]],
      ["http://127.0.0.1:80", ["127.0.0.1"]],
      ["http://[::1]:8443", ["[::1]:8443"]],
    ]) {
      const linked = x.linkDetailed("v2", "GET", "/a/b", [["k", "v"]], "c", SECRET, base, o).xNonce;
      for (const host of hosts) {
        for (const [path, params] of [
          ["fast", [["k", "v"]]],
          ["general", new Map([["k", "v"]])],
        ]) {
          equal(
            x.sign("v2", "GET", "/a/b", params, "c", SECRET, { ...o, host }),
            linked,
            `${base} ${host} (${path})`,
          );
        }
        equal(
          x.link("v2", "GET", "/a/b", [["k", "v"]], "c", SECRET, base, { ...o, host }).length > 0,
          true,
          host,
        );
      }
    }
  });

  await check("sign called again from a mocked Date.now or crypto.getRandomValues signs both", () => {
    // A fresh process: before the fix the inner call found sign's fast path buffers borrowed
    // by the outer call (a Rust panic, "RuntimeError: unreachable"), and every later sign of
    // the module trapped alike. A test that mocks the clock with a function that signs is
    // re-entrant: each call must sign core's bytes, and the module stay whole.
    const code =
      `const N = "${"0".repeat(32)}";\n` +
      `const T = 1700000000000;\n` +
      `const want = () => [x.sign("v1", "GET", "/a", [["k", "v"]], "c", S, { timestamp: T }),\n` +
      `  x.sign("v2", "GET", "/b", [["k", "v"]], "c", S, { host: "h", timestamp: T, nonce: N }),\n` +
      `  x.signDetailed("v2", "POST", "/c", new Map([["k", "v"]]), "c", S, { host: "h", timestamp: T, nonce: N, body: "x" }).xNonce,\n` +
      `  x.link("v2", "GET", "/d", [], "c", S, "https://h", { timestamp: T, nonce: N })];\n` +
      `const before = want();\n` +
      `const realNow = Date.now;\n` +
      `const realRandom = globalThis.crypto.getRandomValues;\n` +
      `const out = {};\n` +
      `const run = (name, mock, outer) => {\n` +
      `  const inner = [];\n` +
      `  mock(() => { try { inner.push(want().join() === before.join()); } catch (e) { inner.push(e.constructor.name + ": " + e.message); } });\n` +
      `  try { out[name] = { outer: outer(), inner }; }\n` +
      `  catch (e) { out[name] = { threw: e.constructor.name + ": " + e.message }; }\n` +
      `  finally { Date.now = realNow; globalThis.crypto.getRandomValues = realRandom; }\n` +
      `};\n` +
      `const clock = (f) => { Date.now = () => { f(); return T; }; };\n` +
      `const random = (f) => { globalThis.crypto.getRandomValues = (b) => { f(); return b.fill(0); }; };\n` +
      `run("clockFast", clock, () => x.sign("v1", "GET", "/a", [["k", "v"]], "c", S));\n` +
      `run("clockGeneral", clock, () => x.signDetailed("v1", "GET", "/a", new Map([["k", "v"]]), "c", S).xNonce);\n` +
      `run("clockLink", clock, () => x.link("v2", "GET", "/d", [], "c", S, "https://h", { nonce: N }));\n` +
      `run("randomFast", random, () => x.sign("v2", "GET", "/b", [["k", "v"]], "c", S, { host: "h", timestamp: T }));\n` +
      `run("randomGeneral", random, () => x.signDetailed("v2", "POST", "/c", new Map([["k", "v"]]), "c", S, { host: "h", timestamp: T, body: "x" }).xNonce);\n` +
      `out.after = want().join() === before.join();\n` +
      `out.before = before;\n` +
      `console.log(JSON.stringify(out));\n`;
    const out = inFreshProcess(code);
    const [v1, v2, detailed, link] = out.before;
    const expect = {
      clockFast: v1,
      clockGeneral: v1,
      clockLink: link,
      randomFast: v2,
      randomGeneral: detailed,
    };
    for (const [name, header] of Object.entries(expect)) {
      const r = out[name];
      assert(!r.threw, `${name}: ${r.threw}`);
      equal(r.outer, header, `${name}: the outer call signs core's bytes`);
      // Every inner call (the mock catches what it throws: the outer call goes on).
      assert(r.inner.length > 0 && r.inner.every((ok) => ok === true), `${name}: inner calls ${r.inner}`);
    }
    assert(out.after, "the module signs as before");
  });

  await check("a refused secret leaves no copy in the module's memory", () => {
    // A fresh process for each. The secret with a lone surrogate appended (wasm-bindgen reads
    // it as U+FFFD), with the final newline of a file read by `readFileSync` or a space
    // (refused by core's rules), or too long: before the fix, the refused text was freed
    // without being zeroized, and its hex digits stayed in the module's memory (the first
    // bytes overwritten by the allocator, the rest there: hence the search for its second half).
    for (const bad of ['S + "\\ud800"', 'S + "\\n"', '" " + S', "S.repeat(17)"]) {
      const code =
        `const bad = ${bad};\n` +
        `const codes = [\n` +
        `  () => x.sign("v2", "GET", "/a", [["k", "v"]], "c", bad, { host: "h" }),\n` +
        `  () => x.signDetailed("v1", "GET", "/a", new Map([["k", "v"]]), "c", bad),\n` +
        `  () => x.link("v2", "GET", "/a", [], "c", bad, "https://h"),\n` +
        `].map((f) => { try { f(); return "signed"; } catch (e) { return e.code; } });\n` +
        `console.log(JSON.stringify({ codes, left: Buffer.from(glue.packedMemory().buffer).indexOf(S.slice(32)) >= 0 }));\n`;
      const out = inFreshProcess(code);
      equal(out.codes.join(), "invalid_secret,invalid_secret,invalid_secret", `${bad}: refused`);
      assert(!out.left, `${bad}: no part of the secret is left in the module's memory`);
    }
  });

  await check("initSync() while init() is pending: sign leaves no secret in the replaced instance", () => {
    // A fresh process, the web build. wasm-bindgen's glue lets the pending init() replace the
    // instance initSync() made; the fast path kept writing the packed request (the secret in
    // it) into the first instance's memory, which nothing zeroized, on every later call.
    const code =
      `const { readFileSync } = require("node:fs");\n` +
      `const instances = [];\n` +
      `const { Instance, instantiate } = WebAssembly;\n` +
      `WebAssembly.Instance = new Proxy(Instance, { construct(t, a) { const i = new t(...a); instances.push(i); return i; } });\n` +
      `WebAssembly.instantiate = async (...a) => { const r = await instantiate(...a); instances.push(r.instance ?? r); return r; };\n` +
      `(async () => {\n` +
      `  const web = await import("./pkg/web/xnonce_wasm.js");\n` +
      `  const bytes = readFileSync("pkg/web/xnonce_wasm_bindgen_bg.wasm");\n` +
      `  const O = { host: "h", timestamp: 1, nonce: "0".repeat(32) };\n` +
      `  const pending = web.default({ module_or_path: bytes });\n` +
      `  web.initSync({ module: bytes });\n` +
      `  const secrets = ["1a", "2b", "3c"].map((h) => h.repeat(32));\n` +
      `  const headers = [web.sign("v2", "GET", "/a", [["k", "v"]], "c", secrets[0], O)];\n` +
      `  await pending;\n` +
      `  for (const s of secrets.slice(1)) headers.push(web.sign("v2", "GET", "/a", [["k", "v"]], "c", s, O));\n` +
      `  const expected = secrets.map((s) => x.sign("v2", "GET", "/a", [["k", "v"]], "c", s, O));\n` +
      `  const left = instances.map((i) => secrets.filter((s) => Buffer.from(i.exports.memory.buffer).indexOf(s) >= 0).length);\n` +
      `  console.log(JSON.stringify({ instances: instances.length, left, same: headers.join() === expected.join() }));\n` +
      `})();\n`;
    const out = inFreshProcess(code);
    equal(out.instances, 2, "two instances were made");
    assert(out.same, "the headers are right");
    equal(out.left.join(), "0,0", "secrets left in each instance's memory");
  });

  await check("a body whose buffer is detached leaves no secret in the module's memory", () => {
    // A fresh process. Before the fix, sign's fast path wrote the packed text (the secret in
    // it) into the module's memory, then threw while copying a view of a detached buffer,
    // leaving that text there until the next fast sign overwrote it.
    const code =
      `const view = new Uint8Array(4); structuredClone(view.buffer, { transfer: [view.buffer] });\n` +
      `let thrown;\n` +
      `try { x.sign("v2", "POST", "/a", [], "c", S, { host: "h", body: view }); } catch (e) { thrown = e.constructor.name; }\n` +
      `console.log(JSON.stringify({ thrown, secretInMemory: Buffer.from(glue.packedMemory().buffer).indexOf(S) >= 0 }));\n`;
    const out = inFreshProcess(code);
    equal(out.thrown, "TypeError", "a detached view is a TypeError");
    assert(!out.secretInMemory, "no copy of the secret is left in the module's memory");
  });

  await check("a body larger than the module can hold is invalid_body, and the fast path stays whole", () => {
    // A fresh process. ArrayBuffers of 2 GiB and 4 GiB: neither is written (its pages are
    // never touched), as neither path copies an ArrayBuffer before measuring it. Before the
    // fix, 2 GiB (more than a Vec holds on wasm32) aborted: "RuntimeError: unreachable"; and
    // 4 GiB made the fast path ask packedInput for its size as a u32, wrapped to a few bytes:
    // it wrote the packed text, threw a RangeError copying the body with the secret left in
    // memory, and kept the wrapped size as its buffer's capacity, so later calls wrote past
    // the buffer into the module's heap.
    const code =
      `const V2 = { host: "h", timestamp: 1, nonce: "${"0".repeat(32)}" };\n` +
      `const show = (f) => { try { f(); return "signed"; } catch (e) { return e.constructor.name + " " + e.code; } };\n` +
      `const out = { thrown: [] };\n` +
      `for (const size of [2 ** 31, 2 ** 32]) {\n` +
      `  let body;\n` +
      `  // A host that refuses even to reserve it (strict overcommit): nothing to check there.\n` +
      `  try { body = new ArrayBuffer(size); } catch { out.thrown.push(...Array(3).fill("unallocatable " + size)); continue; }\n` +
      `  out.thrown.push(show(() => x.sign("v2", "POST", "/a", [], "c", S, { ...V2, body })));\n` +
      `  out.thrown.push(show(() => x.signDetailed("v2", "POST", "/a", [], "c", S, { ...V2, body })));\n` +
      `  out.thrown.push(show(() => x.link("v2", "POST", "/a", [], "c", S, "https://h", { body })));\n` +
      `}\n` +
      `out.secretInMemory = Buffer.from(glue.packedMemory().buffer).indexOf(S) >= 0;\n` +
      `out.same = [10, 5000, 100000, 300000].map((n) => {\n` +
      `  const params = [["k", "v".repeat(n)]];\n` +
      `  return x.sign("v2", "GET", "/a", params, "c", S, V2) === x.signDetailed("v2", "GET", "/a", new Map(params), "c", S, V2).xNonce;\n` +
      `});\n` +
      `console.log(JSON.stringify(out));\n`;
    const out = inFreshProcess(code);
    const checked = out.thrown.filter((t) => !t.startsWith("unallocatable"));
    for (const t of new Set(out.thrown))
      if (t.startsWith("unallocatable"))
        console.log(
          `  SKIPPED: ${t} bytes (this host will not reserve such an ArrayBuffer: that size is not checked)`,
        );
    equal(checked.join(), Array(checked.length).fill("InputError invalid_body").join(), "every path");
    assert(!out.secretInMemory, "no copy of the secret is left in the module's memory");
    equal(out.same.join(), "true,true,true,true", "the fast path signs core's bytes after");
  });

  await check("a sparse array's length is no measure of its pairs: its hole is refused", () => {
    // `new Array(2 ** 32 - 1)` holds nothing: the general path reserved room for 4 billion
    // pairs first and trapped (RuntimeError: unreachable), the module unusable after.
    const V2 = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
    for (const f of [
      () => x.sign("v2", "GET", "/a", new Array(2 ** 32 - 1), "c", SECRET, V2),
      () => x.signDetailed("v2", "GET", "/a", new Array(2 ** 32 - 1), "c", SECRET, V2),
      () => x.link("v1", "GET", "/a", new Array(2 ** 32 - 1), "c", SECRET, "https://h"),
    ]) {
      throwsCode(f, "invalid_param_value");
    }
    equal(x.sign("v2", "GET", "/a", [["k", "v"]], "c", SECRET, V2).slice(0, 6), "v2 c 1", "usable after");
  });

  await check("a Proxy of an array is read as Array.from reads it, on every path", () => {
    // A Proxy's `length` trap may answer a string: the general path took it as 0 entries and
    // signed no params at all, where sign's fast path (and the Node package, which reads a
    // Proxy of an array with Array.from) signs both.
    const V2 = { host: "h", timestamp: 1, nonce: "0".repeat(32) };
    const stringLength = (target) =>
      new Proxy(target, { get: (t, k) => (k === "length" ? String(t.length) : t[k]) });
    const pairs = [
      ["a", "1"],
      ["b", "2"],
    ];
    const want = x.sign("v2", "GET", "/a", pairs, "c", SECRET, V2);
    for (const [name, params] of [
      ["container", stringLength(pairs)],
      ["pairs", pairs.map(stringLength)],
      ["both", stringLength(pairs.map(stringLength))],
    ]) {
      equal(x.signDetailed("v2", "GET", "/a", params, "c", SECRET, V2).xNonce, want, `${name}, signDetailed`);
      equal(x.sign("v2", "GET", "/a", params, "c", SECRET, V2), want, `${name}, sign`);
      equal(
        x.link("v2", "GET", "/a", params, "c", SECRET, "https://h", V2).split("&ottoken=")[0],
        "https://h/a?a=1&b=2",
        `${name}, link`,
      );
    }
  });

  await check("the page's static server answers a malformed path and keeps serving", async () => {
    // `/%zz` (decodeURIComponent throws) stopped `node scripts/serve.mjs`, as README runs it.
    const { server, url } = await serve(0);
    try {
      equal((await fetch(`${url}/%zz`)).status, 400, "malformed path");
      equal((await fetch(`${url}/www/`)).status, 200, "the page, after");
    } finally {
      server.close();
    }
  });

  await check("the page's static server redirects a folder only to its own origin", async () => {
    // `/%2F%2Fevil.example%2F..%2Fwww` is the folder www/ once decoded: its redirect said
    // `Location: ///evil.example/../www/`, which a browser follows to http://evil.example/www/.
    const { server, url } = await serve(0);
    const { request } = await import("node:http");
    // The request target as written (fetch would normalise `/.//x/../www` first).
    const locationOf = (path) =>
      new Promise((ok, fail) => {
        request(`${url}${path}`, { path }, (res) => {
          res.resume();
          ok([res.statusCode, res.headers.location]);
        })
          .on("error", fail)
          .end();
      });
    try {
      for (const path of [
        "/www",
        "/%2F%2Fevil.example%2F..%2Fwww",
        "/%2fevil.example%2f..%2fwww",
        "/.//evil/../www",
      ]) {
        const [status, location] = await locationOf(path);
        equal(status, 301, `${path}: status`);
        const target = new URL(location, url);
        equal(target.origin, url, `${path} redirects to ${location}: origin`);
        equal((await fetch(target)).status, 200, `${path}: the folder's page`);
      }
    } finally {
      server.close();
    }
  });

  await check("params as text and options given as undefined", () => {
    for (const params of ["k=v", 5, true]) {
      let message = "";
      try {
        x.signDetailed("v1", "GET", "/a", params, "c", SECRET);
      } catch (e) {
        equal(e.code, "invalid_param_value", String(params));
        message = e.message;
      }
      assert(message.includes("expected an array of [key, value] pairs"), `${params}: ${message}`);
    }
    // undefined options are no options, as null are.
    assert(
      x.signDetailed("v1", "GET", "/a", [], "c", SECRET, undefined).xNonce.split(" ")[1] === "c",
      "signDetailed",
    );
    assert(
      x
        .linkDetailed("v1", "GET", "/a", [], "c", SECRET, "https://h", undefined)
        .url.startsWith("https://h/a?"),
      "link",
    );
  });

  await check("parseHeader, ottoken round trip, linkDetailed", () => {
    const s = x.signDetailed("v1", "GET", "/admin/status", [], "test_client", SECRET, {
      timestamp: 1384300802123,
    });
    const h = x.parseHeader(s.xNonce);
    equal(h.scheme, "v1", "scheme");
    equal(h.mac, "d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe", "mac (the v1 token)");
    equal(h.nonce, null, "v1: nonce null");
    equal(x.ottokenDecode(s.ottoken), s.xNonce, "decode");
    assert(x.ottokenQueryValue(s.ottoken).endsWith("%3D"), "query value escapes =");
    const l = x.linkDetailed("v2", "GET", "/f/get", { name: "a b" }, "c", SECRET, "https://API.example.com/");
    assert(l.url.startsWith("https://API.example.com/f/get?name=a%20b&ottoken="), l.url);
    equal(x.parseHeader(l.xNonce).nonce, l.nonce, "nonce");
    equal(
      x.link("v2", "GET", "/f/get", {}, "c", SECRET, "https://h", { timestamp: 5, nonce: l.nonce }),
      x.linkDetailed("v2", "GET", "/f/get", {}, "c", SECRET, "https://h", { timestamp: 5, nonce: l.nonce })
        .url,
      "link = linkDetailed.url",
    );
  });

  await check("differential: the package against xnonce_spec.mjs on seeded random inputs", async () => {
    // conformance/independent/differential.mjs, shared with the Node package's test: the same
    // inputs, results and codes (a TypeError compared by its name: its wording is our own).
    // XNONCE_DIFF_SEED / XNONCE_DIFF_CASES as there.
    const { OPERATIONS, runOperation, summaryLine, settingsFromEnv } =
      await import("../../conformance/independent/differential.mjs");
    const settings = settingsFromEnv(process.env);
    const failures = [];
    for (const name of OPERATIONS) {
      try {
        console.log(`  ${summaryLine(runOperation(name, x, settings))}`);
      } catch (e) {
        failures.push(e.message);
      }
    }
    if (failures.length) throw new Error(failures.join("\n"));
  });
}
