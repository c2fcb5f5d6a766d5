// A minimal test harness: named checks, one summary line `wasm: N passed, M failed`.
let passed = 0;
let failed = 0;

/** Runs one named check; a thrown error fails it (and is printed). */
export async function check(name, fn) {
  const start = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}

/** Prints the summary line and returns the exit code. */
export function summary() {
  console.log(`wasm: ${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export function equal(got, expected, message = "") {
  if (got !== expected) {
    throw new Error(`${message} expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
  }
}

/** The family of each code and its class's name, as the Node package `xnonce` has them. */
const CLASS_OF_FAMILY = {
  input: "InputError",
  format: "FormatError",
  auth: "AuthError",
  route: "RouteError",
  unavailable: "UnavailableError",
};

/**
 * Asserts that `fn` throws an XNonceError with `code`, an instance of `x.XNonceError` and of its
 * family's class, named after it, whose message does not repeat the code (it is in `.code`, as
 * in the Node package); returns the error. `x`: the module (default: the one `useModule` set).
 */
let module_;
export function useModule(x) {
  module_ = x;
}
export function throwsCode(fn, code, x = module_) {
  try {
    fn();
  } catch (e) {
    assert(e instanceof Error, `thrown value is an Error (${e})`);
    equal(e.code, code, "error code");
    if (x !== undefined) {
      const info = x.errorCodes().find((c) => c.code === code);
      const name = CLASS_OF_FAMILY[info.family];
      assert(e instanceof x.XNonceError, `an XNonceError (${e?.name}: ${e?.message})`);
      assert(e instanceof x[name], `an ${name}`);
      equal(e.name, name, "error name");
      equal(e.family, info.family, "error family");
    }
    assert(!e.message.startsWith(`${code}:`), `message without the code: ${JSON.stringify(e.message)}`);
    return e;
  }
  throw new Error(`expected an XNonceError ${code}, nothing was thrown`);
}

/**
 * Asserts that `fn` throws a plain TypeError whose message matches `pattern`: no `code` (a
 * wrong type), or `code` (`ERR_INVALID_ARG_VALUE` for options it refuses, as the Node package).
 */
export function throwsType(fn, pattern, code = undefined) {
  try {
    fn();
  } catch (e) {
    assert(e instanceof TypeError, `thrown value is a TypeError (${e?.name} ${e?.code}: ${e?.message})`);
    equal(e.name, "TypeError", "error name");
    equal(e.code, code, "TypeError code");
    assert(pattern.test(e.message), `message ${JSON.stringify(e.message)} matches ${pattern}`);
    return e;
  }
  throw new Error(`expected a TypeError, nothing was thrown`);
}
