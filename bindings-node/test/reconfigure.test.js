'use strict'
// Verifier#reconfigure: new windows, schemes, hosts and routes on the same verifier, its
// secrets and replay store kept; a request the old settings may have accepted is checked
// under the narrower of the old and new windows (core's `Verifier::replacing`, PROTOCOL §14.1
// "Replay window"). Deterministic through `now`, but for the middleware's system clock.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const xnonce = require('..')
const { listen } = require('./peers.js')

const SECRET = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
const T = 1700000000000
/** How long after `now` the old settings may still have verified a request (core's). */
const MARGIN = 1000

/** A v2 GET of /a/b for api.test stamped `timestamp`, and how to verify it at `now`. */
function request(timestamp, { scheme = 'v2', nonce } = {}) {
  const xNonce = xnonce.sign(scheme, 'GET', '/a/b', [['n', String(nonce ?? timestamp)]], 'svc', SECRET, {
    host: 'api.test',
    timestamp,
  })
  const target = `/a/b?n=${nonce ?? timestamp}`
  return {
    once: (v, now) => v.verifyOnce('GET', target, { host: 'api.test', xNonce, now }),
    verify: (v, now) => v.verify('GET', target, { host: 'api.test', xNonce, now }),
  }
}

test('a widened window does not accept a copy whose key expired under the old one', () => {
  const v = new xnonce.Verifier({ svc: SECRET }, { windowMs: 5000 })
  const early = request(T)
  assert.equal(early.once(v, T).rememberUntil, T + 5000)
  v.reconfigure({ windowMs: 60000 }, T)
  // Its key expired at T + 5000; under a plain 60 s window it would be fresh, and accepted
  // again. It keeps the 5 s window it was accepted under.
  assert.throws(() => early.once(v, T + 5500), { code: 'expired' })
  // So does any request stamped early enough for the old settings to have accepted it...
  assert.throws(() => request(T + MARGIN + 5000).once(v, T + MARGIN + 5000 + 30000), { code: 'expired' })
  // ... but one stamped later is the new window's, 60 s: accepted when 30 s old.
  const late = request(T + MARGIN + 5001).once(v, T + MARGIN + 5001 + 30000)
  assert.equal(late.rememberUntil, T + MARGIN + 5001 + 60000)
  // `now` as a bigint, as `verify`'s: the same.
  const w = new xnonce.Verifier({ svc: SECRET }, { windowMs: 5000 })
  const again = request(T)
  again.once(w, T)
  w.reconfigure({ windowMs: 60000 }, BigInt(T))
  assert.throws(() => again.once(w, T + 5500), { code: 'expired' })
})

test('the replay store is kept: a request accepted before is replayed after', () => {
  const v = new xnonce.Verifier({ svc: SECRET }, { windowMs: 60000 })
  const r = request(T)
  r.once(v, T)
  v.reconfigure({ windowMs: 60000, schemes: ['v2'] }, T + 1)
  assert.throws(() => r.once(v, T + 2), { code: 'replayed' })
  v.reconfigure({ windowMs: 120000 }, T + 3)
  assert.throws(() => r.once(v, T + 4), { code: 'replayed' })
  // Where a new Verifier, with its new, empty store, would accept it once more.
  assert.equal(r.once(new xnonce.Verifier({ svc: SECRET }, { windowMs: 60000 }), T + 4).client, 'svc')
})

test('a narrowed window applies at once', () => {
  const v = new xnonce.Verifier({ svc: SECRET }, { windowMs: 60000 })
  assert.equal(request(T).verify(v, T + 10000).client, 'svc')
  v.reconfigure({ windowMs: 5000 }, T)
  assert.throws(() => request(T).verify(v, T + 10000), { code: 'expired' })
  assert.throws(() => request(T + 1).once(v, T + 10000), { code: 'expired' })
  assert.equal(request(T + 2).once(v, T + 5002).rememberUntil, T + 5002)
})

test('the whole configuration is replaced: what options do not give is the default', () => {
  const v = new xnonce.Verifier(
    { svc: SECRET },
    { windowMs: 5000, schemes: ['v2'], hosts: ['other.test'], routes: { c: { a_get: {} } } },
  )
  assert.throws(() => request(T).verify(v, T), { code: 'unknown_route' })
  v.reconfigure({ windowMs: 5000 }, T)
  // No routes, any host, both schemes.
  assert.equal(request(T).verify(v, T).scheme, 'v2')
  assert.equal(request(T, { scheme: 'v1' }).verify(v, T).scheme, 'v1')
  v.reconfigure({ hosts: ['other.test'] }, T)
  assert.throws(() => request(T).verify(v, T), { code: 'invalid_host' })
  // No options at all: the defaults (30 s), once the 5 s window has passed.
  v.reconfigure(null, T)
  v.reconfigure(undefined, T)
  v.reconfigure()
  const later = Date.now()
  assert.equal(request(later + MARGIN + 5001).verify(v, later + MARGIN + 5001 + 25000).client, 'svc')
  assert.equal(request(later + MARGIN + 5001).verify(v, later + MARGIN + 5001 + 25000).scheme, 'v2')
})

test('invalid options throw what the constructor throws, and leave the old settings in force', async () => {
  const bad = {
    'no scheme': { windowMs: 60000, schemes: [] },
    'a window above one day': { windowMs: 86400001 },
    'a route window above one day': { windowMs: 60000, controllerWindows: { a: 86400001 } },
    'a window not an integer': { windowMs: 60000.5 },
    'an unknown scheme': { windowMs: 60000, schemes: ['v3'] },
    'no host': { windowMs: 60000, hosts: [] },
    'a host that is none': { windowMs: 60000, hosts: ['a b'] },
    'a route no path can hold': { windowMs: 60000, routes: { '/c': {} } },
    'a route key without a method': { windowMs: 60000, routes: { c: { a: {} } } },
    'a route with a bad method': { windowMs: 60000, routes: { c: { a_g3t: {} } } },
    'a bad param rule': { windowMs: 60000, routes: { c: { a_get: { k: 'must' } } } },
    'a route level that is no object': { windowMs: 60000, routes: { c: [] } },
    'an unknown key': { windowMs: 60000, hots: ['api.test'] },
    'a window of the wrong type': { windowMs: '60000' },
    'schemes of the wrong type': { windowMs: 60000, schemes: 'v2' },
    'route windows of the wrong type': { windowMs: 60000, actionWindows: 'a/b' },
    'a Map': new Map([['windowMs', 60000]]),
    'a string': 'windowMs',
  }
  const v = new xnonce.Verifier({ svc: SECRET }, { windowMs: 5000, schemes: ['v2'] })
  const stillOld = (what) => {
    assert.throws(() => request(T).verify(v, T + 10000), { code: 'expired' }, what)
    assert.throws(() => request(T, { scheme: 'v1' }).verify(v, T), { code: 'unsupported_scheme' }, what)
  }
  const warnings = []
  const record = (w) => warnings.push(w)
  process.on('warning', record)
  try {
    for (const [what, options] of Object.entries(bad)) {
      let expected
      assert.throws(
        () => new xnonce.Verifier({ svc: SECRET }, options),
        (e) => {
          expected = e
          return true
        },
      )
      assert.throws(
        () => v.reconfigure(options, T),
        (e) => {
          assert.equal(e.constructor, expected.constructor, what)
          assert.equal(e.code, expected.code, what)
          assert.equal(e.message, expected.message, what)
          return true
        },
        what,
      )
      stillOld(what)
    }
    // A bad `now` is refused as `verify`'s `now` option is, before anything changes.
    for (const now of [-1, 1.5, NaN, Infinity, 2 ** 53, 2n ** 64n, -1n]) {
      const got = (call) => {
        try {
          call()
        } catch (e) {
          return [e.constructor.name, e.code]
        }
        assert.fail(`now ${now} accepted`)
      }
      const expected = got(() => v.verify('GET', '/a/b', { now }))
      assert.equal(expected[1], 'invalid_timestamp', String(now))
      assert.deepEqual(
        got(() => v.reconfigure({ windowMs: 60000 }, now)),
        expected,
        String(now),
      )
      stillOld(String(now))
    }
    for (const now of ['1700000000000', {}, true]) {
      assert.throws(
        () => v.reconfigure({ windowMs: 60000 }, now),
        (e) => e instanceof TypeError && e.message.endsWith('(argument "now")'),
      )
      stillOld(String(now))
    }
    // Routes whose window selects none: the constructor's warning, and the settings change.
    v.reconfigure({ windowMs: 60000, controllerWindows: { reprots: 1000 }, routes: { a: { b_get: {} } } }, T)
    await new Promise((r) => setImmediate(r)) // warnings are emitted on the next tick
  } finally {
    process.off('warning', record)
  }
  assert.deepEqual(
    warnings.map((w) => [w.code, w.message]),
    [
      [
        'XNONCE_WINDOW_NO_ROUTE',
        'Verifier: controllerWindows["reprots"] names no route, so it applies to no request (a misspelt controller or action?)',
      ],
    ],
  )
  assert.equal(request(T, { scheme: 'v1' }).verify(v, T).scheme, 'v1')
})

test('through the middleware: secrets and replay store kept, routes added make an unknown route 404', async () => {
  const verifier = new xnonce.Verifier({ svc: SECRET })
  const app = await listen(
    xnonce.middleware(verifier, { then: (req, res) => res.end(`ok ${req.xnonce.client}`) }),
  )
  const get = (target, signed = true) =>
    new Promise((resolve, reject) => {
      const headers = signed
        ? { 'x-nonce': xnonce.signRequest('v2', 'GET', target, 'svc', SECRET, { host: app.host }) }
        : {}
      const req = http.request(app.url + target, { headers, agent: false }, (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), headers }),
        )
      })
      req.on('error', reject)
      req.setTimeout(10000, () => req.destroy(new Error(`no answer to ${target} within 10 s`)))
      req.end()
    })
  const again = (target, headers) =>
    new Promise((resolve, reject) => {
      const req = http.request(app.url + target, { headers, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.end()
    })
  try {
    assert.deepEqual([(await get('/reports/weekly')).status], [200])
    const daily = await get('/reports/daily?day=1')
    assert.deepEqual([daily.status, daily.body], [200, 'ok svc'])
    verifier.reconfigure({ routes: { reports: { daily_get: { day: 'req' } } } })
    // routeRefusal and verify follow: an unknown route is 404, signed or not.
    const unknown = await get('/reports/weekly')
    assert.equal(unknown.status, 404)
    assert.equal((await get('/reports/weekly', false)).status, 404)
    assert.equal((await get('/reports/daily')).status, 422)
    // The secrets are kept: a known route verifies...
    const known = await get('/reports/daily?day=2')
    assert.deepEqual([known.status, known.body], [200, 'ok svc'])
    // ... and so is the replay store: the copy of a request accepted before is a replay.
    assert.equal(await again('/reports/daily?day=1', daily.headers), 409)
  } finally {
    await app.close()
  }
})

test('reconfigure from a secrets lookup: the running verification keeps its settings', () => {
  let v
  let calls = 0
  const lookup = (client) => {
    calls += 1
    if (calls === 1) {
      // Narrower and v1 only: the verification in progress is not affected.
      v.reconfigure({ windowMs: 60000, schemes: ['v1'] }, T)
      v.reconfigure({ windowMs: 60000 }, T)
    }
    return client === 'svc' ? SECRET : null
  }
  v = new xnonce.Verifier(lookup, { windowMs: 5000, schemes: ['v2'] })
  const first = request(T)
  const running = first.once(v, T)
  assert.equal(calls, 1)
  assert.deepEqual([running.scheme, running.rememberUntil], ['v2', T + 5000])
  // The next verification is the new settings': v1 accepted; the copy of the first is a
  // replay within its 5 s window, and expired after it, under 60 s as it is...
  assert.equal(request(T, { scheme: 'v1', nonce: 1 }).verify(v, T).scheme, 'v1')
  assert.throws(() => first.once(v, T + 4000), { code: 'replayed' })
  assert.throws(() => first.once(v, T + 5500), { code: 'expired' })
  // ... and a request stamped after what the old settings may have accepted has 60 s.
  assert.equal(request(T + MARGIN + 5001).once(v, T + MARGIN + 5001 + 30000).client, 'svc')
  // A reconfigure the lookup gets wrong is its throw, and changes nothing.
  v.setSecrets((client) => {
    v.reconfigure({ schemes: [] }, T)
    return client === 'svc' ? SECRET : null
  })
  assert.throws(() => request(T + 1).verify(v, T + 1), { code: 'unsupported_scheme' })
  v.setSecrets({ svc: SECRET })
  assert.equal(request(T, { scheme: 'v1', nonce: 2 }).verify(v, T).scheme, 'v1')
})
