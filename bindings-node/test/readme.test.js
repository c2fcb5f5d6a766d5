'use strict'
// The README's complete programs, run as a user would save them (importing 'xnonce'): the
// first signed request and xnonceFetch against a real xnonce-server, the signing block, and
// the two node:http verifying servers (the middleware, and verifyOnce by hand) answering
// signed, replayed, tampered, unsigned and stale requests.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const readline = require('node:readline')
const path = require('node:path')
const { execFile, spawn } = require('node:child_process')
const { promisify } = require('node:util')
const xnonce = require('..')
const { startServer } = require('./server.js')

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
const blocks = [...README.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
const block = (marker) => {
  const found = blocks.filter((b) => b.includes(marker))
  assert.equal(found.length, 1, `exactly one README block with ${marker}`)
  return found[0]
}

// Inside the package folder, so that `import ... from 'xnonce'` resolves to this package.
let dir
let server
test.before(async () => {
  dir = fs.mkdtempSync(path.join(__dirname, '.readme-'))
  server = await startServer('readme_client')
})
test.after(async () => {
  await server?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

function save(name, code) {
  const file = path.join(dir, name)
  fs.writeFileSync(file, code)
  return file
}

/**
 * Saves the README block holding `marker` as `name`, pointed at the test server as its client,
 * runs it with the client's secret in XNONCE_SECRET, and resolves to what it printed.
 */
async function printed(marker, name) {
  const code = block(marker)
    .replace('http://127.0.0.1:8080', server.url)
    .replace("'my_client'", `'${server.client}'`)
  const { stdout } = await promisify(execFile)(process.execPath, [save(name, code)], {
    env: { ...process.env, XNONCE_SECRET: server.secret },
    timeout: 20000,
  })
  return stdout
}

test('README: the first signed request prints the demo server answer', async () => {
  const stdout = await printed("new Requester('http://127.0.0.1:8080'", 'first.mjs')
  assert.equal(stdout, "200 { opt1: 'THIS', opt2: null }\n")
})

test('README: xnonceFetch posts a signed form to the demo server', async () => {
  const stdout = await printed('xnonceFetch({', 'fetch.mjs')
  assert.equal(stdout, "200 { posted: 'POSTED!', opt1: '1', opt2: null, opt3: '3' }\n")
})

test('README: the signing, links and headers block runs as a CommonJS program', async () => {
  const stdout = await printed('x.signDetailed(', 'signing.cjs')
  assert.equal(stdout, `${server.client} true true\n`)
})

/**
 * Runs `file` (a README server block made to listen on port 0 and print the port it got) and
 * resolves to that port once it listens; rejects if it exits first.
 */
function started(file, env) {
  const child = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const port = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server.mjs did not listen within 20 s: ${stderr}`)),
      20000,
    )
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server.mjs exited with ${code}: ${stderr}`))
    })
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer)
      if (/^\d+$/.test(line)) resolve(Number(line))
      else reject(new Error(`unexpected first line: ${line}`))
    })
  })
  return { child, port }
}

/** Runs a README server block (`server.mjs`) and checks its answers to signed, replayed, tampered, unsigned and stale requests. */
async function checkServer(marker) {
  const secret = server.secret
  // Port 0, and the port the system gave printed once it listens: a port picked here could be
  // taken by another process before the child binds it.
  const listen = ".listen(8081, '127.0.0.1')"
  assert.ok(block(marker).includes(listen), 'the block listens on 8081')
  const code = block(marker).replace(
    listen,
    ".listen(0, '127.0.0.1', function () { console.log(this.address().port) })",
  )
  const { child, port: listening } = started(save('server.mjs', code), {
    ...process.env,
    XNONCE_SECRET: secret,
  })
  try {
    const port = await listening
    const base = `http://127.0.0.1:${port}`
    const get = (target, header) => fetch(base + target, { headers: header ? { 'X-Nonce': header } : {} })
    const signed = (target, opts = {}) =>
      xnonce.signRequest('v2', 'GET', target, 'my_client', secret, { host: `127.0.0.1:${port}`, ...opts })
    const problem = async (res) => {
      assert.equal(res.headers.get('content-type'), 'application/problem+json')
      return [res.status, (await res.json()).code]
    }

    const header = signed('/reports?day=1')
    const ok = await get('/reports?day=1', header)
    assert.equal(ok.status, 200)
    assert.deepEqual(await ok.json(), { client: 'my_client', params: [['day', '1']] })
    const replay = await get('/reports?day=1', header)
    assert.deepEqual(await problem(replay), [409, 'replayed'])
    const tampered = await get('/reports?day=2', signed('/reports?day=1'))
    assert.deepEqual(await problem(tampered), [401, 'signature_mismatch'])
    const unsigned = await get('/reports')
    assert.deepEqual(
      [unsigned.status, unsigned.headers.get('content-type'), await unsigned.text()],
      [401, 'text/plain', 'Method or nonce not provided'],
    )
    const v1 = xnonce.signRequest('v1', 'GET', '/reports', 'my_client', secret)
    assert.equal((await get('/reports', v1)).status, 200)
    const v1Replay = await get('/reports', v1)
    assert.deepEqual([v1Replay.status, await v1Replay.text()], [409, 'ottoken already used'])
    const stale = await get('/reports', signed('/reports', { timestamp: 1 }))
    const serverTime = stale.headers.get('x-nonce-server-time')
    assert.deepEqual(await problem(stale), [401, 'expired'])
    assert.match(serverTime, /^\d+ [0-9a-f]{64}$/)
  } finally {
    child.kill('SIGTERM')
  }
}

test('README: the middleware server accepts once and answers refusals as the reference server', async () => {
  await checkServer('x.middleware(verifier, {')
})

test('README: the manual server (verifyOnce and e.answer) answers the same', async () => {
  await checkServer('verifier.verifyOnce(req.method')
})
