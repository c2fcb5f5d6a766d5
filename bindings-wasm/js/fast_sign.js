// `sign` with a fast path (the package's `xnonce_wasm.js` wraps wasm-bindgen's module with
// it): when every text input is a string, the params are an array of [string, string] pairs
// (or absent) and a body is absent, a string, a Uint8Array or an ArrayBuffer, this joins the
// text inputs as core's packed request (xnonce_core::js: NUL-separated), UTF-8 encodes it with
// ONE encodeInto straight into a buffer in the module's memory, makes ONE call
// (`signPackedInput`, src/packed.rs) with four numbers, then reads the ASCII header from a
// second buffer there. wasm-bindgen's glue would instead allocate, copy and convert each
// value (and per-field encodeInto calls, or a charCodeAt loop, measured slower than one
// concatenation and one encodeInto). Anything else — numbers, Maps, objects, a
// bigint timestamp — and any input the fast path does not sign (a NUL inside a field, text
// that is not well-formed, or an error, which only the general path reports) takes the general
// `sign`; both end in the same core call. build.mjs appends the module export (ESM for web/,
// CommonJS for node/).

/**
 * The most bytes the input buffer may hold: packedInput takes a u32 (a larger number would
 * wrap, and the buffer be smaller than the capacity kept here), a Vec on wasm32 holds at most
 * 2^31 - 1 bytes, and signPackedInput's body length is an i32. A request that needs more takes
 * the general path, which refuses a body it cannot hold with invalid_body.
 */
const MAX_ROOM = 0x7fffffff;

/** A lone UTF-16 surrogate (for engines without String.prototype.isWellFormed). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function fastSign(general, wasm) {
  const isText = (v) => typeof v === "string";
  // encodeInto writes a lone surrogate as U+FFFD: such text goes to the general path, which
  // refuses it with the field's code (it is not text, and would sign something else).
  const wellFormed =
    typeof String.prototype.isWellFormed === "function"
      ? (s) => s.isWellFormed()
      : (s) => !LONE_SURROGATE.test(s);
  // %TypedArray%.prototype's own byteLength getter: the view's true size, whatever a
  // subclass (or an own property) says its byteLength or length is.
  const trueByteLength = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype),
    "byteLength",
  ).get;
  // Its Symbol.toStringTag getter: "Uint8Array" for a Uint8Array of any realm (a Buffer, a
  // subclass, a vm context's), undefined for anything else (a Proxy, an object claiming it).
  const typedArrayName = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype),
    Symbol.toStringTag,
  ).get;
  // ArrayBuffer.prototype's byteLength getter: it answers for an ArrayBuffer of any realm and
  // throws for anything else (a SharedArrayBuffer, a Proxy, an object inheriting from
  // ArrayBuffer.prototype, which `instanceof` takes for one): the general path's test.
  const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;
  const isArrayBuffer = (v) => {
    try {
      arrayBufferByteLength.call(v);
      return true;
    } catch {
      return false;
    }
  };
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  // In Node a Buffer over the memory decodes the header (latin1 = ASCII here) in about half
  // the time TextDecoder takes; browsers use TextDecoder.
  const NodeBuffer = typeof Buffer === "function" && typeof Buffer.from === "function" ? Buffer : undefined;
  let memory; // the module's WebAssembly.Memory, once instantiated
  let bytes = new Uint8Array(0); // a view of memory.buffer (empty when detached by growth)
  let input = 0; // address and size of the input buffer
  let capacity = 0;
  let inputBytes = bytes; // the input buffer's part of `bytes`
  let header = 0; // address of the header buffer
  // True while a fast-path call runs. The module calls Date.now and crypto.getRandomValues
  // while it signs, and a mocked one may call `sign` again (a test's clock that signs): that
  // inner call must not write its packed text into the input buffer the outer call is being
  // signed from, nor find the module's buffers taken (a Rust panic: "RuntimeError:
  // unreachable"). It takes the general path, which shares neither.
  let busy = false;

  /** A view of the current memory (growth detaches the old one: its byteLength becomes 0). */
  function view() {
    if (bytes.byteLength === 0) {
      if (memory === undefined) {
        memory = wasm.packedMemory();
        header = wasm.packedHeader();
      }
      bytes = NodeBuffer ? NodeBuffer.from(memory.buffer) : new Uint8Array(memory.buffer);
      inputBytes = bytes.subarray(input, input + capacity);
    }
    return bytes;
  }

  /** The header's length, 0 when the general path must sign. */
  function signFast(scheme, method, path, params, client, secret, options) {
    if (!isText(scheme) || !isText(method) || !isText(path) || !isText(client) || !isText(secret)) return 0;
    let nonce;
    let host;
    let timestamp;
    let body;
    if (options !== undefined && options !== null) {
      if (typeof options !== "object") return 0; // the general path throws the TypeError
      // A Map, a Set, an array: the general path refuses it.
      if (typeof options[Symbol.iterator] === "function") return 0;
      for (const key in options) {
        // An unknown key: the general path throws its TypeError.
        if (key !== "nonce" && key !== "host" && key !== "timestamp" && key !== "body") return 0;
      }
      nonce = options.nonce ?? undefined;
      host = options.host ?? undefined;
      timestamp = options.timestamp ?? undefined;
      body = options.body ?? undefined;
      if (nonce !== undefined && !isText(nonce)) return 0;
      if (host !== undefined && !isText(host)) return 0;
      if (timestamp !== undefined && typeof timestamp !== "number") return 0;
    }
    // Room: at most 3 UTF-8 bytes per UTF-16 unit, the separators and the '=' markers.
    let units =
      scheme.length +
      method.length +
      path.length +
      client.length +
      secret.length +
      9 +
      (nonce === undefined ? 0 : nonce.length) +
      (host === undefined ? 0 : host.length);
    // Each pair's key and value are read ONCE, here: a getter read twice could give another
    // string the second time, and the packed text must be what was checked and measured.
    let pairs = 0;
    let packedParams = "";
    if (params !== undefined && params !== null) {
      if (!Array.isArray(params)) return 0;
      pairs = params.length;
      for (let i = 0; i < pairs; i++) {
        const pair = params[i];
        if (!Array.isArray(pair) || pair.length !== 2) return 0;
        const key = pair[0];
        const value = pair[1];
        if (!isText(key) || !isText(value)) return 0;
        packedParams += "\0" + key + "\0" + value;
      }
      units += packedParams.length;
    }
    let room = 3 * units;
    // The bytes of a binary body, taken before anything is written into the module's memory:
    // `new Uint8Array` of a detached ArrayBuffer throws (as on the general path), and must not
    // leave the packed text, secret included, in the input buffer.
    let bodyBytes;
    let bodyByteLength = 0;
    if (body !== undefined) {
      if (isText(body)) {
        if (!wellFormed(body)) return 0;
        room += 3 * body.length;
      } else if (typedArrayName.call(body) === "Uint8Array" || isArrayBuffer(body)) {
        bodyBytes = isArrayBuffer(body) ? new Uint8Array(body) : body;
        bodyByteLength = trueByteLength.call(bodyBytes);
        // A view of a detached buffer says 0 bytes, and copying it (below, after the packed
        // text is written) would throw: the general path signs an empty body alike, and
        // throws the detached view's TypeError before anything is written.
        if (bodyByteLength === 0) return 0;
        room += bodyByteLength;
      } else return 0;
    }
    if (room > MAX_ROOM) return 0;
    if (room > capacity) {
      // The new buffer first: until it exists the old address and capacity stay true (a
      // call that throws, e.g. before init(), changes nothing).
      const grown = Math.min(Math.max(room, 2 * capacity, 1024), MAX_ROOM);
      const at = wasm.packedInput(grown);
      bytes = new Uint8Array(0); // growing may have grown the memory
      // 0: the module had no room for it (the old buffer is gone too): general path.
      [input, capacity] = at === 0 ? [0, 0] : [at, grown];
      if (at === 0) return 0;
    }
    const b = view();
    let packed =
      scheme +
      "\0" +
      method +
      "\0" +
      path +
      "\0" +
      client +
      "\0" +
      secret +
      "\0" +
      (nonce === undefined ? "" : "=" + nonce) +
      "\0" +
      (host === undefined ? "" : "=" + host);
    packed += packedParams;
    if (!wellFormed(packed)) return 0;
    const encoded = encoder.encodeInto(packed, inputBytes);
    if (encoded.read !== packed.length) return 0; // did not fit: never sign a cut text
    const at = input + encoded.written;
    const len = at - input;
    let bodyLen = -1;
    if (body !== undefined) {
      if (isText(body)) {
        const encodedBody = encoder.encodeInto(body, b.subarray(at));
        if (encodedBody.read !== body.length) return 0;
        bodyLen = encodedBody.written;
      } else {
        b.set(bodyBytes, at);
        bodyLen = bodyByteLength;
      }
    }
    const n = wasm.signPackedInput(len, pairs, timestamp, bodyLen);
    if (n === 0 && wasm.packedMemory() !== memory) {
      // Another instance of the module has taken over: wasm-bindgen's glue replaces its
      // instance when initSync() runs while an init() is pending, and the pending one ends.
      // The packed text (the secret in it) went into the old instance's memory, which no
      // call zeroizes, and the new one found nothing in its own buffer: zeroize it here and
      // start over in the new instance's memory (the next call takes its buffers).
      inputBytes.fill(0, 0, len);
      memory = undefined;
      bytes = new Uint8Array(0);
      inputBytes = bytes;
      [input, capacity] = [0, 0];
    }
    return n;
  }

  return function sign(scheme, method, path, params, client, secret, options) {
    if (busy) return general(scheme, method, path, params, client, secret, options);
    let n;
    busy = true;
    try {
      n = signFast(scheme, method, path, params, client, secret, options);
    } finally {
      busy = false;
    }
    if (n === 0) return general(scheme, method, path, params, client, secret, options);
    // Signing may have grown the memory: view() again. The header is read before any other
    // call can sign into its buffer (no caller's code runs in between).
    const b = view();
    return NodeBuffer
      ? b.toString("latin1", header, header + n)
      : decoder.decode(b.subarray(header, header + n));
  };
}
