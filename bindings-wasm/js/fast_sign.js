// `sign` with a fast path (the package's `xnonce_wasm.js` wraps wasm-bindgen's module with
// it): when every text input is a string and the params are an array of [string, string]
// pairs (or absent), the inputs cross into WebAssembly as ONE NUL-joined string, UTF-8 encoded
// here into a reused buffer (`signPacked`, the packed form of xnonce_core::js), instead of a
// dozen values, each of which costs a copy and a call across the boundary. Anything else — numbers, Maps, objects, NULs
// inside a field, a bigint timestamp — takes the general `sign`; both end in the same core call.
// build.mjs appends the module export (ESM for web/, CommonJS for node/).

function fastSign(general, signPacked) {
  const isText = (v) => typeof v === "string";
  const encoder = new TextEncoder();
  let scratch = new Uint8Array(1024);

  /** UTF-8 of `text` in the reused buffer (grown when a request does not fit). */
  function utf8(text) {
    if (text.length * 3 > scratch.length) scratch = new Uint8Array(text.length * 3);
    const { written } = encoder.encodeInto(text, scratch);
    return scratch.subarray(0, written);
  }

  /** The packed fields, or undefined when the fast path does not apply. */
  function pack(scheme, method, path, params, client, secret, options) {
    if (!isText(scheme) || !isText(method) || !isText(path) || !isText(client) || !isText(secret)) {
      return undefined;
    }
    let nonce = "";
    let host = "";
    if (options !== undefined && options !== null) {
      const n = options.nonce;
      const h = options.host;
      const t = options.timestamp;
      if (n !== undefined && n !== null) {
        if (!isText(n)) return undefined;
        nonce = "=" + n;
      }
      if (h !== undefined && h !== null) {
        if (!isText(h)) return undefined;
        host = "=" + h;
      }
      if (t !== undefined && t !== null && typeof t !== "number") return undefined;
    }
    let packed =
      scheme + "\0" + method + "\0" + path + "\0" + client + "\0" + secret + "\0" + nonce + "\0" + host;
    if (params === undefined || params === null) return packed;
    if (!Array.isArray(params)) return undefined;
    for (let i = 0; i < params.length; i++) {
      const pair = params[i];
      if (!Array.isArray(pair) || pair.length !== 2 || !isText(pair[0]) || !isText(pair[1])) return undefined;
      packed += "\0" + pair[0] + "\0" + pair[1];
    }
    return packed;
  }

  return function sign(scheme, method, path, params, client, secret, options) {
    const packed = pack(scheme, method, path, params, client, secret, options);
    if (packed !== undefined) {
      const t = options?.timestamp;
      const header = signPacked(
        utf8(packed),
        params === undefined || params === null ? 0 : params.length,
        t === null ? undefined : t,
        options?.body ?? undefined,
      );
      if (header !== undefined) return header;
    }
    return general(scheme, method, path, params, client, secret, options);
  };
}
