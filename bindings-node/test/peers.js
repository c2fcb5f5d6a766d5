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
 * A loopback port where no request gets through, for as long as the test needs one: a
 * listener holds it (so no other process can take it meanwhile, as a port found free and
 * closed again could be) and resets each connection as soon as it is accepted, before any
 * request is read (a plain close where `resetAndDestroy`, Node 18.3+, is missing).
 * `release()` frees it.
 * @returns {Promise<{ port: number, release: () => void }>}
 */
async function resettingPort() {
  const net = require('node:net')
  const holder = net.createServer((socket) =>
    typeof socket.resetAndDestroy === 'function' ? socket.resetAndDestroy() : socket.destroy(),
  )
  await new Promise((resolve) => holder.listen(0, '127.0.0.1', resolve))
  return { port: holder.address().port, release: () => holder.close() }
}

module.exports = { nodeServer, recordingServer, listen, resettingPort }
