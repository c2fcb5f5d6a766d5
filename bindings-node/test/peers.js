'use strict'
// Loopback HTTP peers written in Node, for tests that need to see what a client sent (or to
// answer in a way xnonce-server never would), and to run the server adapter (middleware.js).

/** Starts a node http server on 127.0.0.1; `handle(req, body)` returns { status, headers, body }. */
async function nodeServer(handle) {
  return listen(async (req, res) => {
    const chunks = []
    for await (const c of req) chunks.push(c)
    const out = await handle(req, Buffer.concat(chunks))
    res.writeHead(out.status, out.headers ?? {})
    res.end(out.body ?? '')
  })
}

/** Starts a node http server on 127.0.0.1 with a plain `(req, res)` request listener. */
async function listen(listener) {
  const http = require('node:http')
  const srv = http.createServer(listener)
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${srv.address().port}`
  // Closing also drops open connections (a handler that never answers keeps one open).
  const close = () =>
    new Promise((resolve) => {
      srv.closeAllConnections()
      srv.close(resolve)
    })
  return { url, host: new URL(url).host, close }
}

/** A server that records the headers and body of every request and answers 200. */
async function recordingServer() {
  const requests = []
  const srv = await nodeServer((req, body) => {
    requests.push({ url: req.url, method: req.method, headers: req.headers, body: body.toString() })
    return { status: 200, body: 'recorded' }
  })
  return { ...srv, requests }
}

/**
 * A loopback port that nothing listens on, for as long as the test needs one: a TCP socket
 * bound to it and not listening, so that connections to it are refused and no other process
 * can take the port meanwhile (a port found free and closed again could be). `release()`
 * frees it. node:net binds only to listen, so this uses Node's TCP handle; where that is not
 * available, it falls back to a port found free (nothing holds it then).
 * @returns {Promise<{ port: number, release: () => void }>}
 */
async function boundPort() {
  let handle
  try {
    const { TCP, constants } = process.binding('tcp_wrap')
    handle = new TCP(constants.SOCKET)
  } catch {
    handle = undefined
  }
  if (handle !== undefined) {
    const status = handle.bind('127.0.0.1', 0)
    if (status !== 0) throw new Error(`binding a loopback port failed (${status})`)
    const out = {}
    handle.getsockname(out)
    return { port: out.port, release: () => handle.close() }
  }
  const net = require('node:net')
  const probe = net.createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  return { port, release: () => {} }
}

module.exports = { nodeServer, recordingServer, listen, boundPort }
